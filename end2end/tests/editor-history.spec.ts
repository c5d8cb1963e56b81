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
