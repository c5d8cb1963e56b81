// The everyday UI: an application's Overview at a glance, the header's search box, and paged
// lists. Runs against the demo the server creates with `--demo` (application `demo`, cluster
// `demo-web`, server group `demo-web-v000`); everything else is created through the REST API.
import { test, expect } from '@playwright/test';
import { failOnConsoleErrors, openHydrated, signInQuickly } from './support/act';
import { applicationsTable, serverGroupPanel } from './support/find';

test.beforeEach(async ({ page }) => {
  await signInQuickly(page.request);
});

test('the Overview shows the clusters and the recent executions, with links to them', async ({ page, baseURL }) => {
  const checkConsole = failOnConsoleErrors(page);
  // A short pipeline of its own, so the demo has a run to show without touching its servers.
  const pipeline = `Overview check ${Date.now().toString(36)}`;
  const origin = { origin: baseURL! };
  const saved = await page.request.post('/api/v1/applications/demo/pipelines', {
    headers: origin,
    data: { name: pipeline, stages: [{ refId: '1', name: 'Pause', type: 'wait', waitTime: 1 }] },
  });
  expect(saved.ok(), await saved.text()).toBeTruthy();
  const started = await page.request.post(`/api/v1/applications/demo/pipelines/${encodeURIComponent(pipeline)}/executions`, { headers: origin, data: {} });
  expect(started.status(), await started.text()).toBe(201);

  await openHydrated(page, '/applications/demo');
  const clusters = page.getByRole('table', { name: 'Clusters' });
  await expect(clusters.getByRole('link', { name: 'demo-web', exact: true })).toBeVisible();
  // Each cluster summed up: its newest server group (v000, or a later one another test
  // deployed), how many there are, and its instances' health.
  const row = clusters.getByRole('row').filter({ has: page.getByRole('link', { name: 'demo-web', exact: true }) });
  const newest = row.getByRole('link', { name: /^demo-web-v\d{3}$/ });
  await expect(newest).toBeVisible();
  const newestName = (await newest.textContent())!;
  await expect(row).toContainText(/\d+ server groups?, \d+ enabled/);
  await expect(row).toContainText(/\d+ up/);

  const executions = page.getByRole('table', { name: 'Recent executions' });
  const run = executions.getByRole('row').filter({ hasText: pipeline });
  await expect(run).toContainText('manual');
  // Live: the run finishes (a one-second wait) without a reload.
  await expect(run).toContainText('SUCCEEDED', { timeout: 20_000 });
  // The notification defaults form is still there.
  await expect(page.getByRole('form', { name: 'Notification defaults' })).toBeVisible();

  await run.getByRole('link', { name: pipeline }).click();
  await expect(page).toHaveURL(/\/applications\/demo\/executions\//);
  await page.goBack();
  await clusters.getByRole('link', { name: newestName, exact: true }).click();
  await expect(serverGroupPanel(page, newestName)).toBeVisible();
  checkConsole();
});

test('the header search finds clusters and server groups, and opens the Clusters tab on one', async ({ page }) => {
  const checkConsole = failOnConsoleErrors(page);
  await openHydrated(page, '/applications');
  const search = page.getByRole('search', { name: 'Search' });
  await search.getByRole('searchbox').fill('demo-web');
  await search.getByRole('searchbox').press('Enter');
  await expect(page).toHaveURL(/\/search\?q=demo-web$/);
  await expect(page.getByRole('list', { name: 'Clusters found' }).getByRole('link', { name: 'demo-web', exact: true })).toBeVisible();
  const groups = page.getByRole('list', { name: 'Server groups found' });
  await groups.getByRole('link', { name: 'demo-web-v000', exact: true }).click();
  await expect(page).toHaveURL(/\/applications\/demo\/clusters\?.*serverGroup=demo-web-v000/);
  await expect(serverGroupPanel(page, 'demo-web-v000')).toBeVisible();
  checkConsole();
});

test('the search page works without JavaScript and says when nothing matches', async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  await signInQuickly(context.request);
  const page = await context.newPage();
  await page.goto('/applications');
  await page.getByRole('search').getByRole('searchbox').fill('demo');
  await page.getByRole('search').getByRole('button', { name: 'Search' }).click();
  await expect(page.getByRole('list', { name: 'Applications found' }).getByRole('link', { name: 'demo', exact: true })).toBeVisible();
  await page.goto('/search?q=no-such-thing-anywhere');
  await expect(page.getByRole('status')).toContainText('Nothing is named like');
  await context.close();
});

test('the Applications list shows 50 at a time, Next shows the rest', async ({ page, baseURL }) => {
  // Named to sort after every other test's applications, so they stay on the first page.
  const prefix = `zpage${Date.now().toString(36)}`;
  const names = Array.from({ length: 55 }, (_, i) => `${prefix}${String(i).padStart(2, '0')}`);
  for (const name of names) {
    const created = await page.request.post('/api/v1/applications', { headers: { origin: baseURL! }, data: { name } });
    expect(created.status(), name).toBe(201);
  }
  await openHydrated(page, '/applications');
  const rows = applicationsTable(page).locator('tbody tr');
  await expect(rows).toHaveCount(50);
  const pager = page.getByRole('navigation', { name: 'Applications pages' });
  await expect(pager.getByRole('link', { name: 'Previous' })).toHaveCount(0);
  await expect(applicationsTable(page).getByRole('link', { name: names[54], exact: true })).toHaveCount(0);

  await pager.getByRole('link', { name: 'Next' }).click();
  await expect(page).toHaveURL(/\/applications\?page=2$/);
  await expect(applicationsTable(page).getByRole('link', { name: names[54], exact: true })).toBeVisible();
  expect(await rows.count()).toBeGreaterThanOrEqual(5);
  await expect(pager.getByRole('link', { name: 'Next' })).toHaveCount(0);

  // The same pages without JavaScript: plain links.
  const html = await (await page.request.get('/applications?page=2')).text();
  expect(html).toContain(names[54]);
  expect(html).toContain('rel="prev"');
});

test('the Tasks tab shows 50 tasks at a time, newest first, and Next shows the older ones', async ({ page, baseURL }) => {
  const application = `tasks${Date.now().toString(36)}`;
  const origin = { origin: baseURL! };
  expect((await page.request.post('/api/v1/applications', { headers: origin, data: { name: application } })).status()).toBe(201);
  for (let i = 0; i < 51; i++) {
    const task = { application, description: `Pause ${String(i).padStart(2, '0')}`, job: [{ type: 'wait', waitTime: 1 }] };
    const submitted = await page.request.post('/api/v1/tasks', { headers: origin, data: task });
    expect(submitted.status(), await submitted.text()).toBeLessThan(300);
  }
  await openHydrated(page, `/applications/${application}/tasks`);
  const tasks = page.getByRole('list', { name: 'Tasks' }).getByRole('article');
  await expect(tasks).toHaveCount(50);
  await expect(page.getByRole('article', { name: 'Task Pause 00' })).toHaveCount(0);
  await page.getByRole('navigation', { name: 'Tasks pages' }).getByRole('link', { name: 'Next' }).click();
  await expect(page).toHaveURL(new RegExp(`/applications/${application}/tasks\\?page=2$`));
  await expect(tasks).toHaveCount(1);
  await expect(page.getByRole('article', { name: 'Task Pause 00' })).toBeVisible();
});
