// Issue 7's three journeys, each against a gennaker of its own started from an empty database
// (support/fresh.ts): build a pipeline with the form editor alone (red/black deploy, manual
// judgment, wait), run it, judge it and see the new server group; break a stage with a bad
// expression and see the error next to its field before saving; restore an older revision and
// see its stages back. Each leaves screenshots in target/e2e-artifacts/screenshots.
import { test, expect, type Page } from '@playwright/test';
import * as path from 'node:path';
import { createApplication, failOnConsoleErrors, markWindow, openHydrated, signInQuickly } from './support/act';
import { neverReloaded } from './support/check';
import { applicationTab, serverGroupBox } from './support/find';
import { startFreshServer, type FreshServer } from './support/fresh';

const screenshots = path.resolve(__dirname, '../../target/e2e-artifacts/screenshots');
const port = Number(process.env.E2E_PORT ?? 3197) + 10;
let server: FreshServer;

test.use({ baseURL: `http://127.0.0.1:${port}` });

test.beforeEach(async ({ page }) => {
  server = await startFreshServer(port);
  await signInQuickly(page.request);
});

test.afterEach(async () => {
  await server.stop();
});

/** Creates the application from the Applications page and opens its Pipelines tab. */
async function newApplication(page: Page, name: string) {
  await openHydrated(page, '/applications');
  await expect(page.getByText('No applications yet. Create the first one below.')).toBeVisible(); // an empty database
  await createApplication(page, { name });
  await expect(page.getByRole('table', { name: 'Applications' }).getByRole('link', { name, exact: true })).toBeVisible();
  await openHydrated(page, `/applications/${name}/pipelines`);
  await page.getByRole('button', { name: 'New pipeline' }).click();
  await expect(page.getByText('The JSON below is not a pipeline yet.')).toBeVisible();
}

const stagesSection = (page: Page) => page.getByRole('region', { name: 'Stages' });
const stage = (page: Page, name: string) => stagesSection(page).getByRole('listitem', { name: `Stage ${name}`, exact: true });

async function addStage(page: Page, type: string) {
  await stagesSection(page).getByLabel('New stage type').selectOption({ label: type });
  await stagesSection(page).getByRole('button', { name: 'Add stage' }).click();
}

async function save(page: Page, name: string) {
  await page.getByRole('button', { name: 'Save pipeline' }).click();
  await expect(page.getByRole('status').filter({ hasText: `Saved ${name}` })).toBeVisible();
}

test('a red/black deploy, a judgment and a wait built with the forms alone run, and the new server group shows', async ({ page }) => {
  test.setTimeout(120_000);
  const checkConsole = failOnConsoleErrors(page);
  await newApplication(page, 'shop');
  await page.getByLabel('Pipeline name').fill('release');

  await addStage(page, 'Deploy');
  const deploy = stage(page, 'Deploy');
  await deploy.getByLabel('Stage name').fill('Deploy web');
  const deployWeb = stage(page, 'Deploy web');
  await deployWeb.getByLabel('Stack').fill('web');
  await expect(deployWeb.getByLabel('Strategy')).toHaveValue('redblack');
  await deployWeb.getByLabel('Desired').fill('2');
  await deployWeb.getByLabel('Max').fill('2');
  await deployWeb.getByLabel('Command').fill('demo-app\n--version\nv7');
  await deployWeb.getByLabel('Version', { exact: true }).fill('v7');

  await addStage(page, 'Manual Judgment');
  const judgment = stage(page, 'Manual Judgment');
  await judgment.getByLabel('Stage name').fill('Approve');
  await stage(page, 'Approve').getByLabel('Instructions').fill('Is shop-web v7 healthy?');
  await expect(stage(page, 'Approve').getByRole('checkbox', { name: 'Deploy web' })).toBeChecked();

  await addStage(page, 'Wait');
  const wait = stage(page, 'Wait');
  await wait.getByLabel('Seconds to wait').fill('1');

  // The graph follows: three steps, one after the other.
  const graph = page.getByRole('group', { name: 'Stage graph' });
  await expect(graph.getByRole('list', { name: 'Step 1' })).toContainText('Deploy web');
  await expect(graph.getByRole('list', { name: 'Step 2' })).toContainText('Approve');
  await expect(graph.getByRole('list', { name: 'Step 3' })).toContainText('Wait');
  await page.getByRole('region', { name: 'Create or edit a pipeline' }).screenshot({ path: path.join(screenshots, 'pipeline-editor-stages.png') });

  await save(page, 'release');
  const json = page.getByRole('form', { name: 'Pipeline JSON' }).getByRole('textbox');
  await expect(json).toHaveValue(/"strategy": "redblack"/);

  const row = page.getByRole('region', { name: 'Pipeline release' });
  await row.getByRole('button', { name: 'Start' }).click();
  await page.getByRole('dialog', { name: 'Start release' }).getByRole('button', { name: 'Run' }).click();
  await expect(page).toHaveURL(/\/applications\/shop\/executions\//);
  const approve = page.getByRole('region', { name: 'Manual judgment Approve' });
  await expect(approve).toContainText('Is shop-web v7 healthy?', { timeout: 60_000 });
  await page.screenshot({ path: path.join(screenshots, 'execution-awaiting-judgment.png'), fullPage: true });
  await approve.getByRole('button', { name: 'Continue' }).click();
  await expect(page.getByLabel('Execution status')).toHaveText('SUCCEEDED', { timeout: 30_000 });
  await page.screenshot({ path: path.join(screenshots, 'execution-succeeded.png'), fullPage: true });

  await applicationTab(page, 'Clusters').click();
  const box = serverGroupBox(page, 'shop-web-v000');
  await expect(box.getByTestId('server-group-state')).toHaveText('enabled');
  await expect(box.getByTestId('instance-count')).toHaveText('2');
  await expect(box.getByTitle('Artifact version')).toHaveText('v7');
  await page.screenshot({ path: path.join(screenshots, 'clusters-new-application.png'), fullPage: true });
  checkConsole();
});

test('a bad expression shows next to its field before saving, and nothing is saved', async ({ page }) => {
  // The dry-run check answers 400 while the expression is broken; the browser logs that.
  const checkConsole = failOnConsoleErrors(page, [/status of 400/]);
  await newApplication(page, 'broken');
  await page.getByLabel('Pipeline name').fill('checked');
  await addStage(page, 'Wait');
  const seconds = stage(page, 'Wait').getByLabel('Seconds to wait');
  await seconds.fill('${parameters.delay +}');
  await expect(seconds).toHaveAttribute('aria-invalid', 'true');
  await expect(seconds).toHaveAccessibleDescription(/does not parse/);
  await page.getByRole('region', { name: 'Create or edit a pipeline' }).screenshot({ path: path.join(screenshots, 'pipeline-editor-error.png') });
  await expect(page.getByRole('region', { name: 'Pipeline checked' })).toHaveCount(0);

  // Fixed, the error goes away; then it saves.
  await seconds.fill('${parameters.delay + 1}');
  await expect(seconds).not.toHaveAttribute('aria-invalid', 'true');
  await seconds.fill('5');
  await save(page, 'checked');
  await expect(page.getByRole('region', { name: 'Pipeline checked' })).toBeVisible();
  checkConsole();
});

test('restoring an older revision brings its stages back into the forms', async ({ page }) => {
  const checkConsole = failOnConsoleErrors(page);
  await newApplication(page, 'history');
  await page.getByLabel('Pipeline name').fill('evolving');
  await addStage(page, 'Wait');
  await stage(page, 'Wait').getByLabel('Stage name').fill('Alpha');
  await save(page, 'evolving');
  await expect(page.getByText('Editing evolving (revision 1).')).toBeVisible();

  // The second revision: Alpha removed, a judgment named Beta instead.
  await stage(page, 'Alpha').getByRole('button', { name: 'Remove Alpha' }).click();
  await addStage(page, 'Manual Judgment');
  await stage(page, 'Manual Judgment').getByLabel('Stage name').fill('Beta');
  await save(page, 'evolving');
  await expect(page.getByText('Editing evolving (revision 2).')).toBeVisible();
  await expect(stage(page, 'Alpha')).toHaveCount(0);

  const history = page.getByRole('region', { name: 'Revision history' });
  // The list reloads after a save: wait for it, so the click lands on the row it names.
  await expect(history.getByRole('table', { name: 'Revisions' }).getByRole('row')).toHaveCount(1 + 2);
  await history.getByRole('button', { name: 'Restore revision 1' }).click();
  await expect(history.getByRole('status')).toHaveText('Restored as revision 3.');
  await expect(stage(page, 'Alpha')).toBeVisible();
  await expect(stage(page, 'Beta')).toHaveCount(0);
  await expect(stage(page, 'Alpha').getByLabel('Seconds to wait')).toHaveValue('30');
  await expect(page.getByRole('group', { name: 'Stage graph' }).getByRole('list', { name: 'Step 1' })).toContainText('Alpha');
  checkConsole();
});

test('a live view reconnects after the server restarts, without a reload', async ({ page }) => {
  // While the server is down the browser logs the refused socket; that is the point.
  const checkConsole = failOnConsoleErrors(page, [/WebSocket/, /ERR_CONNECTION_REFUSED/]);
  const headers = { origin: server.baseURL };
  expect((await page.request.post('/api/v1/applications', { headers, data: { name: 'restarts' } })).status()).toBe(201);
  const pipeline = { name: 'tick', stages: [{ refId: '1', name: 'Tick', type: 'wait', waitTime: 1 }] };
  expect((await page.request.post('/api/v1/applications/restarts/pipelines', { headers, data: pipeline })).status()).toBe(200);
  await openHydrated(page, '/applications/restarts/pipelines');
  await markWindow(page);
  const runs = page.getByRole('list', { name: 'Runs of tick' });
  await expect(runs.getByRole('listitem')).toHaveCount(0);

  await server.restart();
  // The socket retries every second; give it time to be back before the run starts.
  await page.waitForTimeout(2_500);
  const started = await page.request.post('/api/v1/applications/restarts/pipelines/tick/executions', { headers, data: {} });
  expect(started.status()).toBeLessThan(300);
  await expect(runs.getByRole('listitem')).toHaveCount(1, { timeout: 15_000 });
  await expect(runs.getByRole('link', { name: /SUCCEEDED/ })).toBeVisible({ timeout: 15_000 });
  await neverReloaded(page);
  checkConsole();
});

test('the stage editor works from the keyboard alone', async ({ page }) => {
  const checkConsole = failOnConsoleErrors(page);
  await newApplication(page, 'keys');
  await page.getByLabel('Pipeline name').focus();
  await page.keyboard.type('keyed');

  const kind = stagesSection(page).getByLabel('New stage type');
  await kind.focus();
  await page.keyboard.press('w'); // type-ahead picks Wait
  await expect(kind).toHaveValue('wait');
  await page.keyboard.press('Tab');
  await expect(stagesSection(page).getByRole('button', { name: 'Add stage' })).toBeFocused();
  await page.keyboard.press('Enter');

  const wait = stage(page, 'Wait');
  const seconds = wait.getByLabel('Seconds to wait');
  await expect(seconds).toHaveValue('30');
  const toggle = wait.getByRole('button', { name: /^(Edit|Close) Wait$/ });
  await toggle.focus();
  await page.keyboard.press('Enter');
  await expect(toggle).toHaveAttribute('aria-expanded', 'false');
  await expect(seconds).toBeHidden();
  await page.keyboard.press('Space');
  await expect(toggle).toHaveAttribute('aria-expanded', 'true');
  await seconds.focus();
  await page.keyboard.press('ControlOrMeta+A');
  await page.keyboard.type('5');
  // Tab order follows the form: from the seconds to wait into the execution options.
  await page.keyboard.press('Tab');
  await expect(wait.getByLabel('If the stage fails')).toBeFocused();

  await page.getByRole('button', { name: 'Save pipeline' }).focus();
  await page.keyboard.press('Enter');
  await expect(page.getByRole('status').filter({ hasText: 'Saved keyed' })).toBeVisible();
  const json = page.getByRole('form', { name: 'Pipeline JSON' }).getByRole('textbox');
  await expect(json).toHaveValue(/"waitTime": 5/);
  checkConsole();
});
