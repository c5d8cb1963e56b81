import { test, expect, request as playwrightRequest, type Page } from '@playwright/test';
import { failOnConsoleErrors, openHydrated, signInQuickly } from './support/act';
import { serverGroupBox, serverGroupPanel } from './support/find';

// A Kubernetes account added on the admin page, a deployManifest stage written as YAML in the
// pipeline editor (read by the server as it is typed), run from the UI, its manifests' status
// on the execution page, and the workload it made shown in the clusters view, live. The
// cluster is the test command's (scripts/k8s up: a real API server and controllers); its
// kubeconfig comes in GENNAKER_TEST_KUBECONFIG.
const kubeconfig = process.env.GENNAKER_TEST_KUBECONFIG ?? '';
const stamp = Date.now().toString(36);
const application = `kube${stamp}`;
const namespace = `e2e-${stamp}`;
const account = `k8s-${stamp}`;

test.beforeAll(async ({ baseURL }) => {
  expect(kubeconfig, 'GENNAKER_TEST_KUBECONFIG names the test cluster (scripts/k8s up)').not.toBe('');
  const admin = await playwrightRequest.newContext({ baseURL });
  await signInQuickly(admin);
  const created = await admin.post('/api/v1/applications', { headers: { origin: baseURL! }, data: { name: application } });
  expect(created.status()).toBe(201);
  await admin.dispose();
});

const yaml = `apiVersion: v1
kind: Namespace
metadata:
  name: ${namespace}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: ${namespace}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: nginx:1.27
`;

const stagesSection = (page: Page) => page.getByRole('region', { name: 'Stages' });

test('an admin adds a Kubernetes account, writes a manifest deploy as YAML, runs it and sees the cluster', async ({ page }) => {
  test.setTimeout(120_000);
  // The editor's checks answer 400 while the YAML is broken or the pipeline incomplete.
  const checkConsole = failOnConsoleErrors(page, [/status of 400/]);
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
  // Its caching agent reaches the cluster (the page shows what it last said).
  await expect(async () => {
    await page.reload();
    await expect(page.getByRole('table', { name: 'Cloud accounts' }).getByRole('row', { name: new RegExp(account) })).toContainText('watching', { timeout: 1_000 });
  }).toPass({ timeout: 20_000 });

  await openHydrated(page, `/applications/${application}/pipelines`);
  await page.getByRole('button', { name: 'New pipeline' }).click();
  await page.getByLabel('Pipeline name').fill('roll out');
  await stagesSection(page).getByLabel('New stage type').selectOption({ label: 'Deploy (Manifest)' });
  await stagesSection(page).getByRole('button', { name: 'Add stage' }).click();
  const deploy = stagesSection(page).getByRole('listitem', { name: 'Stage Deploy (Manifest)', exact: true });
  await deploy.getByLabel('Account').fill(account);
  const manifests = deploy.getByLabel('Manifests');
  // Broken YAML is explained next to the field.
  await manifests.fill('apiVersion: v1\nkind: [unclosed');
  await expect(manifests).toHaveAttribute('aria-invalid', 'true');
  await expect(manifests).toHaveAccessibleDescription(/not valid YAML/);
  await manifests.fill(yaml);
  await expect(manifests).not.toHaveAttribute('aria-invalid', 'true');
  await page.getByRole('button', { name: 'Save pipeline' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Saved roll out' })).toBeVisible();
  const json = page.getByRole('form', { name: 'Pipeline JSON' }).getByRole('textbox');
  await expect(json).toHaveValue(/"kind": "Deployment"/);

  await page.getByRole('region', { name: 'Pipeline roll out' }).getByRole('button', { name: 'Start' }).click();
  await page.getByRole('dialog', { name: 'Start roll out' }).getByRole('button', { name: 'Run' }).click();
  await expect(page).toHaveURL(new RegExp(`/applications/${application}/executions/`));
  await expect(page.getByLabel('Execution status')).toHaveText('SUCCEEDED', { timeout: 60_000 });
  await page.getByText('Deploy (Manifest)').first().click();
  const statuses = page.getByRole('table', { name: 'Manifests' });
  await expect(statuses).toContainText('deployment web');
  await expect(statuses).toContainText('stable');

  await openHydrated(page, `/applications/${application}/clusters`);
  await expect(page.getByText('deployment web').first()).toBeVisible({ timeout: 20_000 });
  const box = page.locator('[data-testid^="server-group-replicaSet web-"]').first();
  await expect(box.getByTestId('instance-count')).toHaveText('2');
  const workload = (await box.getAttribute('data-testid'))!.replace('server-group-', '');

  // Scaled from its details panel: a ReplicaSet of a Deployment is scaled through the Deployment.
  await box.click();
  const panel = serverGroupPanel(page, workload);
  // Its raw manifest and its events, from the API server.
  await panel.getByText('Manifest', { exact: true }).click();
  await expect(panel.getByLabel('Manifest', { exact: true })).toContainText('"moniker.spinnaker.io/application"');
  await expect(panel.getByRole('table', { name: 'Events' })).toContainText('SuccessfulCreate');
  const scale = panel.getByRole('form', { name: 'Scale deployment web' });
  await scale.getByLabel('Replicas of deployment web').fill('3');
  await scale.getByRole('button', { name: 'Scale' }).click();
  const started = panel.getByRole('status').filter({ hasText: 'Scale deployment web' });
  await expect(started.getByLabel('Task status')).toHaveText('SUCCEEDED', { timeout: 30_000 });
  await expect(serverGroupBox(page, workload).getByTestId('instance-count')).toHaveText('3', { timeout: 20_000 });
  checkConsole();
});
