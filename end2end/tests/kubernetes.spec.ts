import { test, expect } from '@playwright/test';
import { applicationWithPipeline, failOnConsoleErrors, openHydrated, signInQuickly, startPipeline } from './support/act';

// A Kubernetes account added on the admin page, a deployManifest pipeline started from the
// UI, and the workload it made shown in the clusters view, live. The cluster is the test
// command's (scripts/k8s up: a real API server and controllers); its kubeconfig comes in
// GENNAKER_TEST_KUBECONFIG.
const kubeconfig = process.env.GENNAKER_TEST_KUBECONFIG ?? '';
const stamp = Date.now().toString(36);
const application = `kube${stamp}`;
const namespace = `e2e-${stamp}`;
const account = `k8s-${stamp}`;

test.beforeAll(async ({ baseURL }) => {
  expect(kubeconfig, 'GENNAKER_TEST_KUBECONFIG names the test cluster (scripts/k8s up)').not.toBe('');
  await applicationWithPipeline(baseURL!, application, {
    name: 'roll out',
    stages: [{
      refId: '1', name: 'Deploy', type: 'deployManifest', account, cloudProvider: 'kubernetes', source: 'text',
      manifests: [
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } },
        { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace },
          spec: { replicas: 2, selector: { matchLabels: { app: 'web' } },
            template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'nginx:1.27' }] } } } },
      ],
    }],
  });
});

test('an admin adds a Kubernetes account and a manifest deploy shows up as a cluster', async ({ page }) => {
  const checkConsole = failOnConsoleErrors(page);
  await signInQuickly(page.request);
  await openHydrated(page, '/admin/clouds');
  const form = page.getByRole('form', { name: 'Kubernetes account' });
  await form.getByLabel('Name', { exact: true }).fill(account);
  await form.getByLabel('Kubeconfig file on the gennaker host').fill(kubeconfig);
  await form.getByRole('button', { name: 'Save account' }).click();
  await expect(page.getByRole('status')).toContainText(`Account ${account} saved`);
  const accounts = page.getByRole('table', { name: 'Cloud accounts' });
  await expect(accounts).toContainText(account);
  await expect(accounts).toContainText('kubernetes');

  await openHydrated(page, `/applications/${application}/pipelines`);
  await startPipeline(page, 'roll out');
  await expect(page).toHaveURL(new RegExp(`/applications/${application}/executions/`));
  await expect(page.getByLabel('Execution status')).toHaveText('SUCCEEDED', { timeout: 60_000 });

  await openHydrated(page, `/applications/${application}/clusters`);
  await expect(page.getByText('deployment web').first()).toBeVisible({ timeout: 20_000 });
  await expect(page.locator('[data-testid^="server-group-replicaSet web-"]').first()).toBeVisible();
  checkConsole();
});
