import { test, expect, request as playwrightRequest } from '@playwright/test';
import { ADMIN_PASSWORD, failOnConsoleErrors, openHydrated, signInQuickly, signInWithForm } from './support/act';
import { applicationLink } from './support/find';

const suffix = Date.now().toString(36);
const viewer = `viewer${suffix}`;
const viewerPassword = 'viewer password for e2e';

test.beforeAll(async ({ baseURL }) => {
  // Set-up through REST as the admin: a user with role `dev`, an open and a guarded application.
  const admin = await playwrightRequest.newContext({ baseURL });
  await signInQuickly(admin);
  const origin = { origin: baseURL! };
  expect((await admin.post('/api/v1/users', { headers: origin, data: { name: viewer, password: viewerPassword, roles: ['dev'] } })).status()).toBe(201);
  for (const name of [`visible${suffix}`, `hidden${suffix}`]) {
    expect((await admin.post('/api/v1/applications', { headers: origin, data: { name } })).status()).toBe(201);
  }
  const guard = await admin.put(`/api/v1/applications/hidden${suffix}/permissions`, { headers: origin, data: { READ: ['ops'] } });
  expect(guard.status()).toBe(200);
  await admin.dispose();
});

test('a user signs in, sees only the applications they may read, and signs out', async ({ page }) => {
  const checkConsole = failOnConsoleErrors(page);
  await page.goto('/applications');
  await expect(page).toHaveURL(/\/signin\?next=\/applications$/);
  await expect(page.locator('body[data-hydrated="true"]')).toHaveCount(1);
  await signInWithForm(page, viewer, viewerPassword);

  await expect(page).toHaveURL(/\/applications$/);
  await expect(page.getByText(`Signed in as ${viewer}`)).toBeVisible();
  await expect(applicationLink(page, `visible${suffix}`)).toBeVisible();
  await expect(applicationLink(page, `hidden${suffix}`)).toHaveCount(0);
  await expect(page.getByRole('link', { name: 'Audit log' })).toHaveCount(0);

  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/signin/);
  await page.goto('/applications');
  await expect(page).toHaveURL(/\/signin\?next=/);
  checkConsole();
});

test('a wrong password is explained on the sign-in page', async ({ page }) => {
  const checkConsole = failOnConsoleErrors(page, [/status of 401 \(Unauthorized\)/]);
  await openHydrated(page, '/signin');
  await signInWithForm(page, viewer, 'not the password');
  await expect(page.getByRole('alert')).toContainText('wrong user name or password');
  checkConsole();
});

test('an admin creates an API token in the UI and sees its secret once', async ({ page }) => {
  await signInQuickly(page.request, 'admin', ADMIN_PASSWORD);
  await openHydrated(page, '/account/tokens');
  const form = page.getByRole('form', { name: 'Create token' });
  await form.getByLabel('Name').fill('from-the-ui');
  await form.getByRole('button', { name: 'Create token' }).click();
  const secret = page.getByLabel('New token');
  await expect(secret).toContainText('gnk_');
  const token = (await secret.textContent())!.trim();
  await expect(page.getByRole('table', { name: 'Tokens' }).getByRole('cell', { name: 'from-the-ui', exact: true })).toBeVisible();

  const api = await playwrightRequest.newContext({ extraHTTPHeaders: { authorization: `Bearer ${token}` } });
  const me = await api.get(new URL('/api/v1/session', page.url()).toString());
  expect((await me.json()).name).toBe('admin');
  await api.dispose();

  await page.reload();
  await expect(page.getByLabel('New token')).toHaveCount(0);
  await page.getByRole('link', { name: 'Audit log' }).click();
  await expect(page.getByRole('table', { name: 'Audit log' })).toContainText('POST /api/create_token');
});
