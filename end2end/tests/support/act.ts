// Doing things as a user: sign in, navigate, wait for hydration, fill and submit forms.
import { expect, request as playwrightRequest, type APIRequestContext, type Locator, type Page } from '@playwright/test';
import { createForm } from './find';

export const ADMIN_PASSWORD = 'e2e admin password';

/** Signs the page's browser context in through the REST API (the cookie lands in the context). */
export async function signInQuickly(request: APIRequestContext, username = 'admin', password = ADMIN_PASSWORD) {
  const response = await request.post('/api/v1/session', { data: { username, password } });
  expect(response.status(), `sign in as ${username}`).toBe(200);
}

/** Creates an application and saves a pipeline in it through the REST API, as the admin (for a
 *  test's `beforeAll`); answers the save's JSON. */
export async function applicationWithPipeline(baseURL: string, application: string, pipeline: object) {
  const admin = await playwrightRequest.newContext({ baseURL });
  await signInQuickly(admin);
  const headers = { origin: baseURL };
  expect((await admin.post('/api/v1/applications', { headers, data: { name: application } })).status()).toBe(201);
  const saved = await admin.post(`/api/v1/applications/${application}/pipelines`, { headers, data: pipeline });
  expect(saved.status()).toBe(200);
  const answer = await saved.json();
  await admin.dispose();
  return answer;
}

/** Signs in through the sign-in page, as a person does. */
export async function signInWithForm(page: Page, username: string, password: string) {
  const form = page.getByRole('form', { name: 'Sign in' });
  await form.getByLabel('User name').fill(username);
  await form.getByLabel('Password').fill(password);
  await form.getByRole('button', { name: 'Sign in' }).click();
}

/** Opens a page and waits until the WASM has hydrated it (the App marks <body> when it has). */
export async function openHydrated(page: Page, path: string) {
  await page.goto(path);
  await expect(page.locator('body[data-hydrated="true"]')).toHaveCount(1);
}

export async function createApplication(page: Page, fields: { name: string; email?: string; description?: string }) {
  const form = createForm(page);
  await form.getByLabel('Name').fill(fields.name);
  await form.getByLabel('Owner email').fill(fields.email ?? '');
  await form.getByLabel('Description').fill(fields.description ?? '');
  await form.getByRole('button', { name: 'Create' }).click();
}

/** Fails the test on any console error or uncaught exception (a 404 asset counts), except
 *  those the test expects (`allow`), such as the 400 of a rejected form. */
export function failOnConsoleErrors(page: Page, allow: RegExp[] = []) {
  const problems: string[] = [];
  page.on('console', (message) => {
    const text = message.text();
    if (message.type() === 'error' && !allow.some((pattern) => pattern.test(text))) problems.push(text);
  });
  page.on('pageerror', (error) => problems.push(error.message));
  return () => expect(problems, 'console errors').toEqual([]);
}

/** Fills the details panel's Resize form and submits it. */
export async function resizeServerGroup(panel: Locator, name: string, capacity: { min: number; max: number; desired: number }) {
  const form = panel.getByRole('form', { name: `Resize ${name}` });
  await form.getByLabel('Min').fill(String(capacity.min));
  await form.getByLabel('Max').fill(String(capacity.max));
  await form.getByLabel('Desired').fill(String(capacity.desired));
  await form.getByRole('button', { name: 'Resize' }).click();
}

/** Starts a pipeline from the Pipelines tab with its default parameters; returns the dialog. */
export async function startPipeline(page: Page, name: string) {
  await page.getByRole('region', { name: `Pipeline ${name}` }).getByRole('button', { name: 'Start' }).click();
  const dialog = page.getByRole('dialog', { name: `Start ${name}` });
  await dialog.getByRole('button', { name: 'Run' }).click();
}

/** Marks the window, so `neverReloaded` (check.ts) can tell that the page was not reloaded since. */
export async function markWindow(page: Page) {
  await page.evaluate(() => ((window as any).__noReload = true));
}
