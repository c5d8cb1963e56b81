// The everyday UI of issue 7: a pipeline's revision history in the editor (diff and restore),
// the Executions list's filters, and a failed run opened on its error and re-run.
import { test, expect, request as playwrightRequest, type APIRequestContext } from '@playwright/test';
import { failOnConsoleErrors, openHydrated, signInQuickly } from './support/act';

const application = `hist${Date.now().toString(36)}`;
let revisions: number[] = [];
const runs: Record<'pass' | 'fail', string> = { pass: '', fail: '' };

const stage = (name: string) => ({ refId: '1', name, type: 'evaluateVariables', variables: [{ key: 'x', value: name }] });

async function finished(admin: APIRequestContext, id: string) {
  await expect.poll(async () => (await (await admin.get(`/api/v1/executions/${id}`)).json()).status, { timeout: 15_000 })
    .toMatch(/SUCCEEDED|TERMINAL/);
}

test.beforeAll(async ({ baseURL }) => {
  const admin = await playwrightRequest.newContext({ baseURL });
  await signInQuickly(admin);
  const headers = { origin: baseURL! };
  expect((await admin.post('/api/v1/applications', { headers, data: { name: application } })).status()).toBe(201);

  // Two revisions of one pipeline: Alpha, then Beta.
  const first = await admin.post(`/api/v1/applications/${application}/pipelines`, { headers, data: { name: 'evolving', stages: [stage('Alpha')] } });
  expect(first.status()).toBe(200);
  const saved = await first.json();
  const second = await admin.post(`/api/v1/applications/${application}/pipelines`,
    { headers, data: { ...saved, stages: [stage('Beta')] } });
  expect(second.status()).toBe(200);
  revisions = [saved.revision, (await second.json()).revision];

  // A pipeline that fails unless its parameter says pass: one succeeding run, one failing.
  const gate = {
    name: 'gate',
    parameterConfig: [{ name: 'mode', default: 'pass' }],
    stages: [{ refId: '1', name: 'Check', type: 'checkPreconditions',
      preconditions: [{ type: 'expression', context: { expression: "${parameters.mode == 'pass'}" }, failPipeline: true }] }],
  };
  expect((await admin.post(`/api/v1/applications/${application}/pipelines`, { headers, data: gate })).status()).toBe(200);
  for (const mode of ['pass', 'fail'] as const) {
    const started = await admin.post(`/api/v1/applications/${application}/pipelines/gate/executions`, { headers, data: { parameters: { mode } } });
    expect(started.status(), `start gate with mode ${mode}`).toBeLessThan(300);
    runs[mode] = (await started.json()).id;
    await finished(admin, runs[mode]);
  }
  await admin.dispose();
});

test('the editor lists revisions, shows the diff between two, and restores the older one', async ({ page }) => {
  const checkConsole = failOnConsoleErrors(page);
  await signInQuickly(page.request);
  await openHydrated(page, `/applications/${application}/pipelines`);
  await page.getByRole('button', { name: 'Edit evolving' }).click();
  await expect(page.getByText(`Editing evolving (revision ${revisions[1]}).`)).toBeVisible();

  const history = page.getByRole('region', { name: 'Revision history' });
  const table = history.getByRole('table', { name: 'Revisions' });
  for (const revision of revisions) {
    await expect(table.getByRole('checkbox', { name: `Compare revision ${revision}` })).toBeChecked();
  }
  await expect(table.getByRole('row')).toHaveCount(3); // the header and two revisions
  await expect(table.getByRole('row').nth(1)).toContainText('admin');

  const diff = history.getByRole('list', { name: `Changes from revision ${revisions[0]} to revision ${revisions[1]}` });
  await expect(diff.getByRole('insertion').filter({ hasText: '"name": "Beta"' })).toHaveCount(1);
  await expect(diff.getByRole('deletion').filter({ hasText: '"name": "Alpha"' })).toHaveCount(1);
  await expect(diff.getByRole('insertion').filter({ hasText: '"revision"' }), 'bookkeeping is left out').toHaveCount(0);

  await history.getByRole('button', { name: `Restore revision ${revisions[0]}` }).click();
  const restored = revisions[1] + 1;
  await expect(history.getByRole('status')).toHaveText(`Restored as revision ${restored}.`);
  await expect(page.getByText(`Editing evolving (revision ${restored}).`)).toBeVisible();
  const json = page.getByRole('form', { name: 'Pipeline JSON' }).getByRole('textbox');
  await expect(json).toHaveValue(/"name": "Alpha"/);
  await expect(json).not.toHaveValue(/"name": "Beta"/);
  await expect(table.getByRole('row')).toHaveCount(4);
  checkConsole();
});

test('the Executions list filters by status and parameter value, in the query string', async ({ page }) => {
  const checkConsole = failOnConsoleErrors(page);
  await signInQuickly(page.request);
  await openHydrated(page, `/applications/${application}/pipelines`);
  const executions = page.getByRole('table', { name: 'Executions' });
  await expect(executions.getByRole('link', { name: /^gate / })).toHaveCount(2);

  const filters = page.getByRole('search', { name: 'Filter executions' });
  await filters.getByRole('checkbox', { name: 'TERMINAL' }).check();
  await filters.getByRole('button', { name: 'Filter' }).click();
  await expect(page).toHaveURL(/status=TERMINAL/);
  await expect(executions.getByRole('link', { name: /^gate / })).toHaveCount(1);
  await expect(executions.getByRole('link', { name: 'gate TERMINAL by admin' })).toBeVisible();

  // The same filters work from the address alone (no JavaScript needed to apply them).
  await page.goto(`/applications/${application}/pipelines?q=PASS&since=hour`);
  await expect(executions.getByRole('link', { name: /^gate / })).toHaveCount(1);
  await expect(executions.getByRole('link', { name: 'gate SUCCEEDED by admin' })).toBeVisible();
  await page.goto(`/applications/${application}/pipelines?status=SUCCEEDED&trigger=webhook`);
  await expect(page.getByText('No execution matches the filters.')).toBeVisible();
  checkConsole();
});

test('a failed run opens on its error and re-runs with the same parameters', async ({ page }) => {
  const checkConsole = failOnConsoleErrors(page);
  await signInQuickly(page.request);
  await openHydrated(page, `/applications/${application}/executions/${runs.fail}`);
  const failure = page.getByRole('region', { name: 'Failure of Check' });
  await expect(failure).toBeVisible();
  await expect(failure.getByRole('definition').nth(1)).toHaveText(/\(TERMINAL\)$/);
  await expect(failure.getByRole('definition').first()).not.toBeEmpty();

  await page.getByRole('button', { name: 'Re-run' }).click();
  await expect(page).toHaveURL(new RegExp(`/applications/${application}/executions/(?!${runs.fail}$)[^/]+$`));
  const id = page.url().split('/').pop()!;
  await expect(page.getByLabel('Execution status')).toHaveText('TERMINAL', { timeout: 15_000 });
  const rerun = await (await page.request.get(`/api/v1/executions/${id}`)).json();
  expect(rerun.trigger.parameters).toEqual({ mode: 'fail' });
  checkConsole();
});

test('a Check Preconditions stage is built with its own fields, and a precondition that only warns lets the run go on', async ({ page, baseURL }) => {
  const checkConsole = failOnConsoleErrors(page);
  await signInQuickly(page.request);
  await openHydrated(page, `/applications/${application}/pipelines`);
  await page.getByRole('button', { name: 'New pipeline' }).click();
  await page.getByLabel('Pipeline name').fill('guarded');
  const stages = page.getByRole('region', { name: 'Stages' });
  await stages.getByLabel('New stage type').selectOption({ label: 'Check Preconditions' });
  await stages.getByRole('button', { name: 'Add stage' }).click();
  const check = stages.getByRole('listitem', { name: 'Stage Check Preconditions', exact: true });

  // A new stage starts with one precondition that holds and would fail the pipeline.
  const first = check.getByRole('group', { name: 'Precondition 1' });
  await expect(first.getByLabel('Check that')).toHaveValue('expression');
  await expect(first.getByRole('textbox', { name: 'Expression' })).toHaveValue('${true}');
  await expect(first.getByLabel('Fail the pipeline')).toBeChecked();
  await first.getByRole('textbox', { name: 'Expression' }).fill('${1 == 1}');

  // A second one checks another stage's status, and only warns.
  await check.getByRole('button', { name: 'Add precondition' }).click();
  const second = check.getByRole('group', { name: 'Precondition 2' });
  await second.getByLabel('Check that').selectOption({ label: 'A stage has a status' });
  await expect(second.getByRole('textbox', { name: 'Expression' })).toHaveCount(0);
  await second.getByRole('textbox', { name: 'Stage name' }).fill('Missing');
  await second.getByLabel('Failure message').fill('no Missing stage ran');
  await second.getByLabel('Fail the pipeline').uncheck();
  await page.getByRole('button', { name: 'Save pipeline' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Saved guarded' })).toBeVisible();

  const saved = (await (await page.request.get(`/api/v1/applications/${application}/pipelines/guarded`)).json());
  expect(saved.stages[0].preconditions).toHaveLength(2);
  expect(saved.stages[0].preconditions[0]).toMatchObject({ type: 'expression', context: { expression: '${1 == 1}' }, failPipeline: true });
  expect(saved.stages[0].preconditions[1]).toMatchObject({
    type: 'stageStatus', context: { stageName: 'Missing', failureMessage: 'no Missing stage ran' }, failPipeline: false,
  });

  const started = await page.request.post(`/api/v1/applications/${application}/pipelines/guarded/executions`, { headers: { origin: baseURL! }, data: {} });
  expect(started.status()).toBeLessThan(300);
  const id = (await started.json()).id;
  await openHydrated(page, `/applications/${application}/executions/${id}`);
  await expect(page.getByLabel('Execution status')).toHaveText('SUCCEEDED', { timeout: 15_000 });
  const run = await (await page.request.get(`/api/v1/executions/${id}`)).json();
  expect(run.stages[0]).toMatchObject({ status: 'FAILED_CONTINUE', error: 'no Missing stage ran' });
  checkConsole();
});

test('the editor\'s code is loaded only by the page that shows it', async ({ page }) => {
  const checkConsole = failOnConsoleErrors(page);
  const chunks: string[] = [];
  const caching: (string | undefined)[] = [];
  page.on('request', (request) => {
    if (/\/pkg\/(split|chunk)_[^/]*\.wasm$/.test(request.url())) chunks.push(request.url());
  });
  page.on('response', (response) => {
    if (/\/pkg\/(split|chunk)_[^/]*\.wasm$/.test(response.url())) caching.push(response.headers()['cache-control']);
  });
  await signInQuickly(page.request);
  await openHydrated(page, `/applications/${application}/clusters`);
  await page.waitForLoadState('networkidle');
  expect(chunks, 'the Clusters tab loads no chunk').toEqual([]);

  await openHydrated(page, `/applications/${application}/pipelines`);
  await expect(page.getByRole('button', { name: 'Save pipeline' })).toBeVisible();
  expect(chunks.length, 'the Pipelines tab loads the editor chunk').toBeGreaterThan(0);
  // Chunks only work with the main module of their own build: revalidated on every use.
  await expect.poll(() => caching.length).toBeGreaterThan(0);
  expect(new Set(caching)).toEqual(new Set(['no-cache']));
  checkConsole();
});

test('a part whose code cannot be loaded says so where it would be, and the page keeps working', async ({ page }) => {
  // The browser logs the failed fetch: expected here.
  const checkConsole = failOnConsoleErrors(page, [/ERR_FAILED|Failed to fetch|TypeError|WebAssembly/]);
  await page.route(/\/pkg\/split_pipeline_editor[^/]*\.wasm$/, (route) => route.abort());
  await signInQuickly(page.request);
  await openHydrated(page, `/applications/${application}/pipelines`);
  const editor = page.getByRole('region', { name: 'Create or edit a pipeline' });
  await expect(editor.getByRole('alert')).toHaveText(/could not be loaded.*Reload the page/);

  // The rest of the page is alive: the Start dialog, a chunk of its own, opens.
  await page.getByRole('region', { name: 'Pipeline evolving' }).getByRole('button', { name: 'Start' }).click();
  await expect(page.getByRole('dialog', { name: 'Start evolving' })).toBeVisible();
  checkConsole();
});
