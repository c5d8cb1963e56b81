// The cluster-management UI against the demo the server creates on its first start with
// `--demo` (see playwright.config.ts): application `demo`, load balancer `demo-web`, server
// group `demo-web-v000` (two instances of `gennaker demo-app --version v1`) and the pipeline
// `Deploy demo`. Real processes behind a real balancer: nothing here is a double.
import { test, expect } from '@playwright/test';
import * as path from 'node:path';
import { failOnConsoleErrors, markWindow, openHydrated, resizeServerGroup, signInQuickly, startPipeline } from './support/act';
import { neverReloaded, seesInstanceCount } from './support/check';
import { applicationTab, serverGroupBox, serverGroupPanel } from './support/find';

const screenshots = path.resolve(__dirname, '../../target/e2e-artifacts/screenshots');

test.beforeEach(async ({ page }) => {
  await signInQuickly(page.request);
});

test('resizing a server group from its details shows the new instance without a reload', async ({ page }) => {
  test.setTimeout(90_000);
  const checkConsole = failOnConsoleErrors(page);
  await openHydrated(page, '/applications/demo');
  await applicationTab(page, 'Clusters').click();
  await expect(page).toHaveURL(/\/applications\/demo\/clusters$/);
  await markWindow(page);

  await expect(page.getByRole('region', { name: 'Account local, region local' })).toBeVisible();
  const box = serverGroupBox(page, 'demo-web-v000');
  await expect(box.getByTestId('server-group-state')).toHaveText('enabled');
  await seesInstanceCount(page, 'demo-web-v000', 2);
  await box.click();

  const panel = serverGroupPanel(page, 'demo-web-v000');
  const instances = panel.getByRole('table', { name: 'Instances of demo-web-v000' });
  await expect(instances.getByRole('row')).toHaveCount(1 + 2);

  // Destroy asks for the name first (and is not clicked here).
  const destroy = panel.getByRole('form', { name: 'Destroy demo-web-v000' });
  await destroy.getByLabel('Type demo-web-v000 to confirm').fill('demo-web');
  await expect(destroy.getByRole('button', { name: 'Destroy' })).toBeDisabled();
  await destroy.getByLabel('Type demo-web-v000 to confirm').fill('demo-web-v000');
  await expect(destroy.getByRole('button', { name: 'Destroy' })).toBeEnabled();
  await destroy.getByLabel('Type demo-web-v000 to confirm').fill('');

  await resizeServerGroup(panel, 'demo-web-v000', { min: 1, max: 3, desired: 3 });
  const started = panel.getByRole('status').filter({ hasText: 'Resize demo-web-v000' });
  await expect(started).toContainText('Resize demo-web-v000 to min 1, max 3, desired 3');

  await seesInstanceCount(page, 'demo-web-v000', 3);
  await expect(instances.getByRole('row')).toHaveCount(1 + 3);
  await expect(started.getByLabel('Task status')).toHaveText('SUCCEEDED', { timeout: 30_000 });
  await page.screenshot({ path: path.join(screenshots, 'clusters.png'), fullPage: true });
  await neverReloaded(page);

  // The task is listed on the Tasks tab.
  await started.getByRole('link', { name: /Resize demo-web-v000/ }).click();
  await expect(page).toHaveURL(/\/applications\/demo\/tasks#task-/);
  const task = page.getByRole('article', { name: 'Task Resize demo-web-v000 to min 1, max 3, desired 3' });
  await expect(task.getByLabel('Task status')).toHaveText('SUCCEEDED');
  checkConsole();
});

test('running Deploy demo leaves demo-web-v001 enabled in the Clusters tab', async ({ page }) => {
  test.setTimeout(120_000);
  const checkConsole = failOnConsoleErrors(page);
  await openHydrated(page, '/applications/demo/pipelines');
  await startPipeline(page, 'Deploy demo');
  await expect(page).toHaveURL(/\/applications\/demo\/executions\//);
  await expect(page.getByLabel('Execution status')).toHaveText('SUCCEEDED', { timeout: 60_000 });

  await applicationTab(page, 'Clusters').click();
  const box = serverGroupBox(page, 'demo-web-v001');
  await expect(box.getByTestId('server-group-state')).toHaveText('enabled');
  await expect(box.getByTitle('Artifact version')).toHaveText('v2');
  await expect(box).not.toHaveClass(/\bdisabled\b/);
  await page.screenshot({ path: path.join(screenshots, 'clusters-after-deploy.png'), fullPage: true });
  checkConsole();
});

test('without JavaScript, a server group opens by its link and Resize posts as a plain form', async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  await signInQuickly(context.request);
  const page = await context.newPage();
  await page.goto('/applications/demo/clusters');
  await serverGroupBox(page, 'demo-web-v001').click();
  await expect(page).toHaveURL(/serverGroup=demo-web-v001/);
  const panel = serverGroupPanel(page, 'demo-web-v001');
  await expect(panel.getByRole('table', { name: 'Instances of demo-web-v001' })).toBeVisible();
  await resizeServerGroup(panel, 'demo-web-v001', { min: 2, max: 2, desired: 2 });
  // The server answers the post by sending the browser back to the page it came from.
  await expect(page).toHaveURL(/\/applications\/demo\/clusters\?/);
  await page.goto('/applications/demo/tasks');
  await expect(page.getByRole('article', { name: 'Task Resize demo-web-v001 to min 2, max 2, desired 2' })).toBeVisible();
  await context.close();
});

test('the Load Balancers tab lists the demo balancer with its health check', async ({ page }) => {
  const checkConsole = failOnConsoleErrors(page);
  await openHydrated(page, '/applications/demo/loadBalancers');
  const row = page.getByRole('table', { name: 'Load balancers' }).getByRole('row').filter({ hasText: 'demo-web' });
  await expect(row).toContainText('/health');
  await row.getByRole('button', { name: 'Edit demo-web' }).click();
  const form = page.getByRole('form', { name: 'Load balancer' });
  await expect(form.getByLabel('Stack')).toHaveValue('web');
  await expect(form.getByLabel('Path (empty for none)')).toHaveValue('/health');
  checkConsole();
});
