import { test, expect } from '@playwright/test';
import { applicationWithPipeline, failOnConsoleErrors, openHydrated, signInQuickly } from './support/act';

const application = `rel${Date.now().toString(36)}`;

test.beforeAll(async ({ baseURL }) => {
  await applicationWithPipeline(baseURL!, application, {
    name: 'release',
    parameterConfig: [{ name: 'env', default: 'staging', options: [{ value: 'staging' }, { value: 'prod' }] }],
    stages: [
      { refId: '1', name: 'Prepare', type: 'evaluateVariables', variables: [{ key: 'target', value: '${parameters.env}' }] },
      { refId: '2', name: 'Approve', type: 'manualJudgment', instructions: 'Release to ${parameters.env}?', requisiteStageRefIds: ['1'],
        judgmentInputs: [{ value: 'now' }, { value: 'tonight' }] },
      { refId: '3', name: 'Settle', type: 'wait', waitTime: 1, requisiteStageRefIds: ['2'] },
    ],
  });
});

test('start a pipeline from the UI, watch it live, judge it, see it succeed', async ({ page }) => {
  const checkConsole = failOnConsoleErrors(page);
  await signInQuickly(page.request);
  await openHydrated(page, `/applications/${application}/pipelines`);
  await page.evaluate(() => ((window as any).__noReload = true));

  const pipeline = page.getByRole('region', { name: 'Pipeline release' });
  await pipeline.getByRole('button', { name: 'Start' }).click();
  const dialog = page.getByRole('dialog', { name: 'Start release' });
  await dialog.getByRole('combobox').selectOption('prod');
  await dialog.getByRole('button', { name: 'Run' }).click();

  await expect(page).toHaveURL(new RegExp(`/applications/${application}/executions/`));
  await expect(page.getByRole('button', { name: /^Stage Prepare .*SUCCEEDED/ })).toBeVisible();
  await expect(page.getByRole('button', { name: /^Stage Approve .*RUNNING/ })).toBeVisible();
  const judgment = page.getByRole('region', { name: 'Manual judgment Approve' });
  await expect(judgment).toContainText('Release to prod?');
  await judgment.getByRole('combobox').selectOption('tonight');
  await judgment.getByRole('button', { name: 'Continue' }).click();

  await expect(page.getByRole('button', { name: /^Stage Approve .*SUCCEEDED/ })).toBeVisible();
  await expect(page.getByRole('button', { name: /^Stage Settle .*(RUNNING|SUCCEEDED)/ })).toBeVisible();
  await expect(page.getByLabel('Execution status')).toHaveText('SUCCEEDED', { timeout: 15_000 });
  expect(await page.evaluate(() => (window as any).__noReload), 'the page was never reloaded').toBe(true);

  // The Pipelines tab shows the run as a row of green stage bars.
  await page.getByRole('link', { name: 'Pipelines' }).click();
  await expect(page.getByRole('link', { name: /release SUCCEEDED by admin/ }).first()).toBeVisible();
  checkConsole();
});

test('the JSON editor explains a broken pipeline next to it', async ({ page }) => {
  const checkConsole = failOnConsoleErrors(page, [/status of 400 \(Bad Request\)/]);
  await signInQuickly(page.request);
  await openHydrated(page, `/applications/${application}/pipelines`);
  const editor = page.getByRole('form', { name: 'Pipeline JSON' });
  await editor.getByRole('textbox').fill(JSON.stringify({ name: 'broken', stages: [{ refId: 'a', type: 'wait', waitTime: '${1 +}' }] }));
  await editor.getByRole('button', { name: 'Save pipeline' }).click();
  await expect(page.getByRole('alert')).toContainText('stage a');
  await expect(page.getByRole('alert')).toContainText('(stages[0].waitTime)');
  // The stage's form opens on the same error, next to the field it names.
  const seconds = page.getByRole('region', { name: 'Stages' }).getByRole('listitem', { name: 'Stage Wait' }).getByLabel('Seconds to wait');
  await expect(seconds).toHaveAttribute('aria-invalid', 'true');
  await expect(seconds).toHaveAccessibleDescription(/does not parse/);
  checkConsole();
});
