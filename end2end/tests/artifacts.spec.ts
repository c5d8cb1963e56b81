import { test, expect } from '@playwright/test';
import { applicationWithPipeline, failOnConsoleErrors, openHydrated, signInQuickly } from './support/act';

// A pipeline that expects an image: the Start dialog takes the artifacts, and the execution
// page shows what the run bound and where it came from.
const application = `art${Date.now().toString(36)}`;

test.beforeAll(async ({ baseURL }) => {
  await applicationWithPipeline(baseURL!, application, {
    name: 'ship',
    expectedArtifacts: [{ id: 'image', displayName: 'Shop image', matchArtifact: { type: 'docker/image', name: 'registry.example/shop' } }],
    stages: [{ refId: '1', name: 'Read', type: 'evaluateVariables', variables: [{ key: 'image', value: "${#triggerResolvedArtifact('registry.example/shop').reference}" }] }],
  });
});

test('the Start dialog takes artifacts and the run shows what it bound', async ({ page }) => {
  const checkConsole = failOnConsoleErrors(page, [/status of 400 \(Bad Request\)/]);
  await signInQuickly(page.request);
  await openHydrated(page, `/applications/${application}/pipelines`);
  await page.getByRole('region', { name: 'Pipeline ship' }).getByRole('button', { name: 'Start' }).click();
  const dialog = page.getByRole('dialog', { name: 'Start ship' });
  await expect(dialog).toContainText('Shop image (image)');
  // Without the artifact the run cannot start, and says which one is missing.
  await dialog.getByRole('button', { name: 'Run' }).click();
  await expect(dialog.getByRole('alert')).toContainText('Shop image (image)');
  await dialog.getByLabel('Artifacts (JSON)').fill(
    JSON.stringify([{ type: 'docker/image', name: 'registry.example/shop', version: 'v9', reference: 'registry.example/shop:v9' }]),
  );
  await dialog.getByRole('button', { name: 'Run' }).click();
  await expect(page).toHaveURL(new RegExp(`/applications/${application}/executions/`));
  await expect(page.getByLabel('Execution status')).toHaveText('SUCCEEDED', { timeout: 15_000 });
  const bound = page.getByRole('list', { name: 'Bound artifacts' });
  await expect(bound).toContainText('registry.example/shop:v9');
  await expect(bound).toContainText('from the trigger');
  checkConsole();
});
