import { test, expect } from '@playwright/test';
import { applicationWithPipeline, failOnConsoleErrors, openHydrated, signInQuickly } from './support/act';

// A pipeline as Spinnaker users have them: Front50's stamps, loose values, and a stage type
// gennaker does not run yet. It is kept, the list and the editor say what cannot run, the
// editor shows that stage's fields as JSON, and starting it is refused naming the stage.
const application = `spin${Date.now().toString(36)}`;

test.beforeAll(async ({ baseURL }) => {
  const pipeline = {
    name: 'imported', index: 0, schema: '1', updateTs: '1700000000000', spelEvaluator: 'v4', appConfig: null, keepWaitingPipelines: false,
    stages: [
      // An AMI bake (Rosco and Packer): gennaker does not bake machine images.
      { refId: '1', name: 'Bake', type: 'bake', baseOs: 'ubuntu', package: 'shop', cloudProviderType: 'aws', regions: ['us-east-1'], requisiteStageRefIds: [] },
      { refId: '2', name: 'Pause', type: 'wait', waitTime: '5', requisiteStageRefIds: ['1'] },
    ],
  };
  const saved = await applicationWithPipeline(baseURL!, application, pipeline);
  expect(saved.warnings[0]).toContain('"bake"');
});

test('a Spinnaker pipeline with a stage gennaker cannot run is kept, explained and refused at start', async ({ page }) => {
  const checkConsole = failOnConsoleErrors(page, [/status of 400 \(Bad Request\)/]);
  await signInQuickly(page.request);
  await openHydrated(page, `/applications/${application}/pipelines`);
  const row = page.getByRole('region', { name: 'Pipeline imported' });
  await expect(row.getByRole('list', { name: 'Warnings about imported' })).toContainText('"bake"');

  await row.getByRole('button', { name: 'Start' }).click();
  const dialog = page.getByRole('dialog', { name: 'Start imported' });
  await dialog.getByRole('button', { name: 'Run' }).click();
  await expect(dialog.getByRole('alert')).toContainText('"Bake"');

  await page.getByRole('button', { name: 'Edit imported' }).click();
  await expect(page.getByRole('list', { name: 'Warnings' })).toContainText('"bake"');
  const stages = page.getByRole('region', { name: 'Stages' });
  await stages.getByRole('button', { name: 'Edit Bake' }).click();
  const bake = stages.getByRole('listitem', { name: 'Stage Bake' });
  await expect(bake).toContainText('gennaker does not run stages of type bake');
  await expect(bake.getByLabel('baseOs')).toHaveValue('"ubuntu"');
  checkConsole();
});
