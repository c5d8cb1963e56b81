// A big application on the Clusters tab: more server groups than a page shows open, so its
// clusters come collapsed (counts and a health bar), open one at a time, and are paged 50 to a
// page; all of it lives in the query string, so it works without JavaScript too, and live
// changes reach both an open cluster and a collapsed one. The application is this file's own:
// 52 clusters of the local cloud made by one deploy task, at size 0 so that no process starts,
// and one of them deployed twice.
import { test, expect, request as playwrightRequest, type APIRequestContext } from '@playwright/test';
import AxeBuilder from '@axe-core/playwright';
import * as path from 'node:path';
import { failOnConsoleErrors, markWindow, openHydrated, signInQuickly } from './support/act';
import { neverReloaded, seesInstanceCount } from './support/check';
import { serverGroupBox } from './support/find';

const stamp = Date.now().toString(36);
const application = `big${stamp}`;
const stacks = Array.from({ length: 52 }, (_, index) => `c${String(index).padStart(2, '0')}`);
const cluster = (stack: string) => `${application}-${stack}`;
const screenshots = path.resolve(__dirname, '../../target/e2e-artifacts/screenshots');
let admin: APIRequestContext;
let origin = '';

/** Runs a task of `jobs` as the admin and waits for it to succeed. */
async function runTask(jobs: object[]) {
  const submitted = await admin.post('/api/v1/tasks', { headers: { origin }, data: { application, description: 'big clusters', job: jobs } });
  expect(submitted.status(), await submitted.text()).toBe(201);
  const { id } = await submitted.json();
  await expect.poll(async () => (await (await admin.get(`/api/v1/tasks/${id}`)).json()).status, { timeout: 90_000 }).toBe('SUCCEEDED');
}

const deploy = (stackNames: string[]) => ({
  type: 'deploy', name: 'Create server groups', clusters: stackNames.map((stack) => ({
    application, stack, cloudProvider: 'local', account: 'local', region: 'local', strategy: '', loadBalancers: [],
    capacity: { min: 0, max: 0, desired: 0 }, artifact: { type: 'command', command: ['demo-app', '--version', 'v1'], version: 'v1' },
  })),
});

const resize = (serverGroupName: string, size: number) => ({
  type: 'resizeServerGroup', cloudProvider: 'local', account: 'local', region: 'local', serverGroupName,
  capacity: { min: size, max: size, desired: size },
});

test.beforeAll(async ({ baseURL }) => {
  test.setTimeout(180_000);
  origin = baseURL!;
  admin = await playwrightRequest.newContext({ baseURL });
  await signInQuickly(admin);
  expect((await admin.post('/api/v1/applications', { headers: { origin }, data: { name: application } })).status()).toBe(201);
  await runTask([deploy(stacks)]);
  await runTask([deploy(['c00'])]);
});

test.afterAll(async () => {
  await admin.dispose();
});

test.beforeEach(async ({ page }) => {
  await signInQuickly(page.request);
});

test('a big application shows its clusters collapsed, opens one on demand, follows changes live and pages', async ({ page }) => {
  test.setTimeout(120_000);
  const checkConsole = failOnConsoleErrors(page);
  await openHydrated(page, `/applications/${application}/clusters`);
  await markWindow(page);

  await expect(page.getByText('Many server groups: clusters are collapsed.')).toBeVisible();
  const clusters = page.getByRole('group', { name: /^Cluster / });
  await expect(clusters).toHaveCount(50);
  const first = page.getByRole('group', { name: `Cluster ${cluster('c00')}` });
  await expect(first.getByTestId('server-group-count')).toHaveText('2 server groups');
  await expect(first).toContainText(`newest ${cluster('c00')}-v001 (v1, enabled)`);
  await expect(serverGroupBox(page, `${cluster('c00')}-v000`)).toHaveCount(0);
  const results = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  expect(results.violations.map((v) => `${v.id}: ${v.help}`), 'accessibility violations').toEqual([]);
  await page.screenshot({ path: path.join(screenshots, 'clusters-big-collapsed.png'), fullPage: true });

  // Opened on demand: its server groups, each with its health.
  const expand = first.getByRole('link', { name: `Expand ${cluster('c00')}` });
  await expect(expand).toHaveAttribute('aria-expanded', 'false');
  await expand.click();
  await expect(page).toHaveURL(new RegExp(`[?&]expand=${cluster('c00')}(&|$)`));
  await expect(serverGroupBox(page, `${cluster('c00')}-v000`)).toBeVisible();
  await expect(serverGroupBox(page, `${cluster('c00')}-v001`)).toBeVisible();
  await expect(first.getByRole('link', { name: `Collapse ${cluster('c00')}` })).toHaveAttribute('aria-expanded', 'true');
  await expect(page.getByRole('group', { name: `Cluster ${cluster('c01')}` }).getByTestId('server-group-count')).toHaveText('1 server group');

  // Live: the open cluster's server group shows its new instance as a square, the collapsed
  // cluster's counts follow.
  await runTask([resize(`${cluster('c00')}-v001`, 1)]);
  await seesInstanceCount(page, `${cluster('c00')}-v001`, 1);
  await expect(serverGroupBox(page, `${cluster('c00')}-v001`).getByRole('img', { name: /^Health: 1 / })).toBeVisible();
  await runTask([resize(`${cluster('c01')}-v000`, 1)]);
  await expect(page.getByRole('group', { name: `Cluster ${cluster('c01')}` }).getByRole('img', { name: /^Health: 1 / })).toBeVisible({ timeout: 20_000 });
  await page.screenshot({ path: path.join(screenshots, 'clusters-big-open.png') });

  // Paged: the second page holds the last two clusters, few enough to show open.
  const pager = page.getByRole('navigation', { name: 'Clusters pages' });
  await expect(pager).toContainText('Page 1 of 2 · 52 clusters');
  await pager.getByRole('link', { name: 'Next' }).click();
  await expect(page).toHaveURL(/[?&]page=2/);
  await expect(clusters).toHaveCount(2);
  await expect(serverGroupBox(page, `${cluster('c51')}-v000`)).toBeVisible();
  await pager.getByRole('link', { name: 'Previous' }).click();
  await expect(clusters).toHaveCount(50);
  await neverReloaded(page);
  checkConsole();

  // Back to size 0, so nothing keeps running.
  await runTask([resize(`${cluster('c00')}-v001`, 0), resize(`${cluster('c01')}-v000`, 0)]);
});

test('without JavaScript, a big application opens clusters, turns pages and filters by its links and form', async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  await signInQuickly(context.request);
  const page = await context.newPage();
  await page.goto(`/applications/${application}/clusters`);
  await expect(page.getByRole('group', { name: /^Cluster / })).toHaveCount(50);
  await page.getByRole('link', { name: `Expand ${cluster('c02')}` }).click();
  await expect(page).toHaveURL(new RegExp(`[?&]expand=${cluster('c02')}(&|$)`));
  await expect(serverGroupBox(page, `${cluster('c02')}-v000`)).toBeVisible();

  await page.getByRole('navigation', { name: 'Clusters pages' }).getByRole('link', { name: 'Next' }).click();
  await expect(page).toHaveURL(/[?&]page=2/);
  await expect(page.getByRole('group', { name: /^Cluster / })).toHaveCount(2);

  const filters = page.getByRole('search', { name: 'Filter clusters' });
  await filters.getByLabel('Stack or detail').fill('c05');
  await filters.getByRole('button', { name: 'Apply' }).click();
  await expect(page).toHaveURL(/[?&]q=c05/);
  await expect(page.getByRole('group', { name: /^Cluster / })).toHaveCount(1);
  await expect(serverGroupBox(page, `${cluster('c05')}-v000`)).toBeVisible();
  await context.close();
});

test('the Overview of a big application sums its clusters up, shows the first 20 and follows changes live', async ({ page }) => {
  test.setTimeout(90_000);
  const checkConsole = failOnConsoleErrors(page);
  await openHydrated(page, `/applications/${application}`);
  await markWindow(page);
  const table = page.getByRole('table', { name: 'Clusters' });
  // Cluster rows only (the header row has no cell).
  await expect(table.getByRole('row').filter({ has: page.getByRole('cell') })).toHaveCount(20);
  await expect(page.getByText('The first 20 of 52 clusters;')).toBeVisible();
  await expect(page.getByRole('link', { name: 'all of them on the Clusters tab' })).toHaveAttribute('href', `/applications/${application}/clusters`);
  const c00 = table.getByRole('row').filter({ hasText: `${cluster('c00')}-v001` });
  await expect(c00).toContainText('2 server groups, 2 enabled');
  await expect(c00).toContainText('no instances');
  // No instance and no older server group is in the page: it stays small however big.
  expect(await page.content()).not.toContain(`${cluster('c00')}-v000`);

  // Live: a cluster's health follows without a reload.
  await runTask([resize(`${cluster('c03')}-v000`, 1)]);
  await expect(table.getByRole('row').filter({ hasText: `${cluster('c03')}-v000` })).toContainText(/1 (up|starting|unknown)/, { timeout: 20_000 });
  await runTask([resize(`${cluster('c03')}-v000`, 0)]);
  await expect(table.getByRole('row').filter({ hasText: `${cluster('c03')}-v000` })).toContainText('no instances', { timeout: 20_000 });
  await neverReloaded(page);
  checkConsole();
});
