import { test, expect } from '@playwright/test';
import { createApplication, failOnConsoleErrors, openHydrated, signInQuickly } from './support/act';
import { seesApplication } from './support/check';
import { alert, applicationLink } from './support/find';

const unique = (prefix: string) => `${prefix}${Date.now().toString(36)}`;

test.beforeEach(async ({ page }) => {
  await signInQuickly(page.request);
});

test('the page is server-rendered before any JavaScript runs', async ({ page }) => {
  const response = await page.request.get('/');
  expect(response.status()).toBe(200);
  const html = await response.text();
  expect(html).toContain('<h1>Applications</h1>');
  expect(html).toContain('aria-label="Create application"');
});

test('creating an application in the hydrated page lists it without a reload, and it survives one', async ({ page }) => {
  const checkConsole = failOnConsoleErrors(page);
  const name = unique('shop');
  await openHydrated(page, '/');
  const before = page.url();
  await createApplication(page, { name, email: 'team@example.com', description: 'Sells things' });
  await expect(page.getByRole('status')).toContainText(`Created ${name}`);
  await seesApplication(page, name);
  expect(page.url()).toBe(before);

  await page.reload();
  await seesApplication(page, name);
  await applicationLink(page, name).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(name);
  await expect(page.getByText('Sells things')).toBeVisible();
  checkConsole();
});

test('a bad name is explained next to the form', async ({ page }) => {
  const checkConsole = failOnConsoleErrors(page, [/status of 400 \(Bad Request\)/]);
  await openHydrated(page, '/');
  await createApplication(page, { name: 'bad name!' });
  await expect(alert(page)).toContainText('letters or digits');
  await expect(alert(page)).toContainText('(name)');
  checkConsole();
});

test('the form works without JavaScript (plain form post)', async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  await signInQuickly(context.request);
  const page = await context.newPage();
  const name = unique('nojs');
  await page.goto('/');
  await createApplication(page, { name });
  // The server redirects the post back to the page, which now lists the application.
  await seesApplication(page, name);
  await page.goto('/');
  await seesApplication(page, name);
  await context.close();
});

test('notification defaults are edited on the Overview page, with errors next to the form', async ({ page, baseURL }) => {
  const name = unique('notify');
  const created = await page.request.post('/api/v1/applications', { headers: { origin: baseURL! }, data: { name } });
  expect(created.status()).toBe(201);
  await openHydrated(page, `/applications/${name}`);
  const form = page.getByRole('form', { name: 'Notification defaults' });
  const field = form.getByLabel('Notifications (JSON)');
  await field.fill('[{"type": "slack", "address": "not a url", "when": ["pipeline.failed"]}]');
  await form.getByRole('button', { name: 'Save notification defaults' }).click();
  await expect(page.getByRole('alert')).toContainText('notifications');
  await field.fill('[{"type": "webhook", "address": "http://127.0.0.1:9/hook", "when": ["pipeline.failed"]}]');
  await form.getByRole('button', { name: 'Save notification defaults' }).click();
  await expect(page.getByRole('status')).toContainText('Notification defaults saved');
  const saved = await (await page.request.get(`/api/v1/applications/${name}`)).json();
  expect(saved.notifications[0].type).toBe('webhook');
});

test('description, owner and permissions are set on the Overview page', async ({ page, baseURL }) => {
  const checkConsole = failOnConsoleErrors(page, [/status of 400/]);
  const name = unique('settings');
  const created = await page.request.post('/api/v1/applications', { headers: { origin: baseURL! }, data: { name } });
  expect(created.status()).toBe(201);
  await openHydrated(page, `/applications/${name}`);
  const form = page.getByRole('form', { name: 'Application settings' });
  await form.getByLabel('Description').fill('The shop front');
  await form.getByLabel('Owner email').fill('shop@example.com');
  await form.getByLabel('Read').fill('bad role!');
  await form.getByRole('button', { name: 'Save settings' }).click();
  await expect(page.getByRole('alert')).toBeVisible();
  await form.getByLabel('Read').fill('dev, ops');
  await form.getByLabel('Execute (run and judge pipelines)').fill('ops');
  await form.getByRole('button', { name: 'Save settings' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Settings saved.' })).toBeVisible();
  await expect(page.getByRole('definition').filter({ hasText: 'The shop front' })).toBeVisible();
  const saved = await (await page.request.get(`/api/v1/applications/${name}`)).json();
  expect(saved.permissions).toEqual({ READ: ['dev', 'ops'], WRITE: [], EXECUTE: ['ops'] });
  expect(saved.email).toBe('shop@example.com');
  checkConsole();
});
