import { test, expect, request as playwrightRequest } from '@playwright/test';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { failOnConsoleErrors, openHydrated, signInQuickly } from './support/act';
import { serverGroupBox, serverGroupPanel } from './support/find';

// An AWS account added on the admin page, and a server group made from a machine image with
// the Create server group form, shown in the clusters view. AWS is the emulator from PyPI
// (moto's server, installed by scripts/python-tools next to GENNAKER_TEST_PYTHON), started here
// on a free port. moto is kinder than AWS: instances are InService and Healthy at once.
const stamp = Date.now().toString(36);
const application = `ec2${stamp}`;
const account = `aws-${stamp}`;
let moto: ChildProcess | undefined;
let endpoint = '';

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

test.beforeAll(async ({ baseURL }) => {
  const python = process.env.GENNAKER_TEST_PYTHON ?? '';
  expect(python, 'GENNAKER_TEST_PYTHON names the tools venv (scripts/python-tools)').not.toBe('');
  const port = await freePort();
  moto = spawn(join(dirname(python), 'moto_server'), ['-H', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  endpoint = `http://127.0.0.1:${port}`;
  await expect(async () => {
    const answer = await fetch(`${endpoint}/moto-api/`);
    expect(answer.ok).toBe(true);
  }).toPass({ timeout: 30_000 });
  const admin = await playwrightRequest.newContext({ baseURL });
  await signInQuickly(admin);
  const headers = { origin: baseURL! };
  expect((await admin.post('/api/v1/applications', { headers, data: { name: application } })).status()).toBe(201);
  const key = JSON.stringify({ accessKeyId: 'testing', secretAccessKey: 'testing' });
  const secret = await admin.post('/api/v1/secrets', { headers, data: { name: `${account}-key`, value: key, roles: [], applications: [] } });
  expect(secret.ok()).toBe(true);
  await admin.dispose();
});

test.afterAll(() => {
  moto?.kill();
});

/** The id of one of the machine images the emulator starts with (EC2's query API). */
async function someImageId(): Promise<string> {
  const answer = await fetch(endpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: 'AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=x',
    },
    body: 'Action=DescribeImages&Version=2016-11-15&Owner.1=amazon',
  });
  const found = /<imageId>(ami-[0-9a-f]+)<\/imageId>/.exec(await answer.text());
  expect(found, 'the emulator lists images').not.toBeNull();
  return found![1];
}

test('an admin adds an AWS account and makes a server group from a machine image', async ({ page }) => {
  test.setTimeout(120_000);
  // The bad schedule below is refused with a 400, as a rejected form is.
  const checkConsole = failOnConsoleErrors(page, [/status of 400 \(Bad Request\)/]);
  await signInQuickly(page.request);
  await openHydrated(page, '/admin/clouds');
  const form = page.getByRole('form', { name: 'AWS account' });
  await form.getByLabel('Name', { exact: true }).fill(account);
  await form.getByLabel('Regions').fill('us-east-1');
  await form.getByLabel('Secret holding the access key').fill(`${account}-key`);
  await form.getByLabel('Endpoint (optional)').fill(endpoint);
  await form.getByRole('button', { name: 'Save AWS account' }).click();
  await expect(page.getByRole('status')).toContainText(`AWS account ${account} saved`);
  await expect(async () => {
    await page.reload();
    await expect(page.getByRole('table', { name: 'Cloud accounts' }).getByRole('row', { name: new RegExp(account) })).toContainText('watching', { timeout: 1_000 });
  }).toPass({ timeout: 30_000 });

  const image = await someImageId();
  await openHydrated(page, `/applications/${application}/clusters`);
  await page.getByText('Create server group', { exact: true }).click();
  const create = page.getByRole('form', { name: 'Create server group' });
  await create.getByLabel('Stack').fill('web');
  await create.getByLabel('Cloud').selectOption('aws');
  await create.getByLabel('Account (AWS)').fill(account);
  await create.getByLabel('Region (AWS)').fill('us-east-1');
  await create.getByLabel('Machine image').fill(image);
  await create.getByLabel('Instance type (AWS)').fill('t3.small');
  await create.getByLabel('Min').fill('2');
  await create.getByLabel('Max').fill('2');
  await create.getByLabel('Desired').fill('2');
  await create.getByRole('button', { name: 'Create' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Create server group in' })).toBeVisible();
  const name = `${application}-web-v000`;
  await expect(serverGroupBox(page, name)).toBeVisible({ timeout: 30_000 });
  await serverGroupBox(page, name).click();
  const panel = serverGroupPanel(page, name);
  await expect(panel).toContainText(image);
  await expect(panel.getByLabel('Launch settings')).toContainText('t3.small');
  await expect(panel.getByLabel('Launch settings')).toContainText(`${name}:1`);

  // Autoscaling from the panel: a target tracking policy, a schedule, then the policy deleted.
  const tracking = panel.getByRole('form', { name: `Target tracking policy of ${name}` });
  await tracking.getByLabel('Metric').selectOption('ASGAverageCPUUtilization');
  await tracking.getByLabel('Target value').fill('50');
  await tracking.getByRole('button', { name: 'Add policy' }).click();
  await expect(panel.getByLabel('Scaling policies')).toContainText('target-tracking-1', { timeout: 30_000 });
  await expect(panel.getByLabel('Scaling policies')).toContainText('keep ASGAverageCPUUtilization at 50');
  const schedule = panel.getByRole('form', { name: `Schedule of ${name}` });
  await schedule.getByRole('textbox').fill('0 9 * * 1-5 min=2 desired=2');
  await schedule.getByRole('button', { name: 'Save schedule' }).click();
  await expect(panel.getByLabel('Scheduled actions')).toContainText('0 9 * * 1-5 min=2 desired=2', { timeout: 30_000 });
  const bad = panel.getByRole('form', { name: `Schedule of ${name}` });
  await bad.getByRole('textbox').fill('every morning desired=2');
  await bad.getByRole('button', { name: 'Save schedule' }).click();
  await expect(bad.locator('..').getByRole('alert')).toContainText('cron');
  await panel.getByRole('form', { name: `Delete policy ${name}-target-tracking-1` }).getByRole('button', { name: 'Delete' }).click();
  await expect(panel.getByText('No scaling policies.')).toBeVisible({ timeout: 30_000 });
  checkConsole();
});
