// Triggers in the pipeline editor, fired from outside. A webhook trigger is added with the
// Triggers form (the JSON beside it follows, and the other way round), saved, and called with
// curl, signed with the secret it names, as a CI system would; the run appears on the Pipelines
// tab without a reload, and its page says what triggered it and which notifications went out.
// A pipeline trigger chained after it links back to that run. Nothing here is a double: the real
// server, real HTTP calls, and a real HTTP server (in this process) taking the notifications.
import { test, expect, request as playwrightRequest, type Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { failOnConsoleErrors, markWindow, openHydrated, signInQuickly } from './support/act';
import { neverReloaded } from './support/check';

const screenshots = path.resolve(__dirname, '../../target/e2e-artifacts/screenshots');
const stamp = Date.now().toString(36);
const application = `hook${stamp}`;
const source = `e2e-hook-${stamp}`;
const secret = { name: `e2e-secret-${stamp}`, value: `hmac key ${stamp}` };

/** The JSON documents the server's webhook notifications posted. */
const notified: { event?: string; message?: string }[] = [];
let notificationReceiver: http.Server;

test.beforeAll(async ({ baseURL }) => {
  notificationReceiver = http.createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => (body += chunk));
    request.on('end', () => {
      notified.push(JSON.parse(body || '{}'));
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => notificationReceiver.listen(0, '127.0.0.1', resolve));
  const receiver = `http://127.0.0.1:${(notificationReceiver.address() as AddressInfo).port}/notify`;

  const admin = await playwrightRequest.newContext({ baseURL });
  await signInQuickly(admin);
  const headers = { origin: baseURL! };
  expect((await admin.post('/api/v1/applications', { headers, data: { name: application } })).status()).toBe(201);
  const pipelines = [
    {
      name: 'on-hook',
      stages: [{ refId: '1', name: 'Settle', type: 'wait', waitTime: 1 }],
      notifications: [{ type: 'webhook', address: receiver, when: ['pipeline.complete'] }],
    },
    {
      name: 'after-hook',
      triggers: [{ type: 'pipeline', application, pipeline: 'on-hook', status: ['successful'] }],
      stages: [{ refId: '1', name: 'Follow', type: 'wait', waitTime: 1 }],
    },
  ];
  for (const pipeline of pipelines) {
    expect((await admin.post(`/api/v1/applications/${application}/pipelines`, { headers, data: pipeline })).status()).toBe(200);
  }
  await admin.dispose();
});

test.afterAll(() => {
  notificationReceiver.close();
});

const addTriggerForm = (page: Page) => page.getByRole('form', { name: 'Add trigger' });
const jsonEditor = (page: Page) => page.getByRole('form', { name: 'Pipeline JSON' });

async function savePipeline(page: Page) {
  await jsonEditor(page).getByRole('button', { name: 'Save pipeline' }).click();
}

/** Calls the webhook as a CI system would: curl, the body signed with the shared secret. */
function fireWebhook(baseURL: string, body: object) {
  const text = JSON.stringify(body);
  const signature = 'sha256=' + createHmac('sha256', secret.value).update(text).digest('hex');
  const answer = execFileSync('curl', [
    '--silent', '--show-error', '--fail-with-body', '--max-time', '20',
    '-X', 'POST', '-H', 'Content-Type: application/json', '-H', `X-Gennaker-Signature-256: ${signature}`,
    '--data-binary', text, `${baseURL}/api/v1/webhooks/${source}`,
  ], { encoding: 'utf8' });
  return JSON.parse(answer) as { triggered: { application: string; pipeline: string; executionId: string }[]; skipped: unknown[] };
}

test('a webhook trigger added with the form starts a run that shows up live', async ({ page, baseURL }) => {
  test.setTimeout(60_000);
  const checkConsole = failOnConsoleErrors(page);
  await signInQuickly(page.request);
  // The secret the trigger names, created over REST as automation would.
  const created = await page.request.post('/api/v1/secrets', { headers: { origin: baseURL! }, data: secret });
  expect(created.status()).toBe(201);

  await openHydrated(page, `/applications/${application}/pipelines`);
  await page.getByRole('region', { name: 'Pipeline on-hook' }).getByRole('button', { name: 'Edit on-hook' }).click();
  await expect(page.getByRole('heading', { name: 'Create or edit a pipeline' })).toBeFocused();
  await expect(page.getByText('Editing on-hook (revision 1).')).toBeVisible();

  const add = addTriggerForm(page);
  await add.getByLabel('Type').selectOption('webhook');
  await add.getByLabel('Source').fill(source);
  await add.getByLabel('Secret name').fill(secret.name);
  await add.getByRole('button', { name: 'Add constraint' }).click();
  await add.getByLabel('Payload field').fill('build.branch');
  await add.getByLabel('Regex for build.branch').fill('main|release/.*');
  await add.getByRole('button', { name: 'Add trigger' }).click();

  const trigger = page.getByRole('listitem', { name: 'Trigger 1: webhook' });
  await expect(trigger).toContainText(`POST /api/v1/webhooks/${source}, 1 payload constraint, signed with secret ${secret.name}`);
  const json = jsonEditor(page).getByRole('textbox');
  await expect(json).toHaveValue(new RegExp(`"source": "${source}"`));

  // An edit of the JSON shows in the form, and an edit in the form shows in the JSON.
  await json.fill((await json.inputValue()).replace('"main|release/.*"', '"main"'));
  await trigger.getByRole('button', { name: 'Edit trigger 1' }).click();
  await expect(trigger.getByLabel('Regex for build.branch')).toHaveValue('main');
  await trigger.getByLabel('Enabled').uncheck();
  await expect(json).toHaveValue(/"enabled": false/);
  await trigger.getByLabel('Enabled').check();
  await expect(json).toHaveValue(/"enabled": true/);

  // A notification that this pipeline never sends (it has no manual judgment).
  const notification = page.getByRole('form', { name: 'Add notification' });
  await notification.getByLabel('Channel').selectOption('email');
  await notification.getByRole('textbox', { name: /^Address/ }).fill('team@example.com');
  await notification.getByRole('checkbox', { name: 'pipeline.failed' }).uncheck();
  await notification.getByRole('checkbox', { name: 'manualJudgment', exact: true }).check();
  await notification.getByLabel('Message for manualJudgment').fill('${execution.name} waits for you');
  await notification.getByRole('button', { name: 'Add notification' }).click();
  await expect(page.getByRole('listitem', { name: 'Notification 1: webhook' })).toContainText('on pipeline.complete');
  await expect(page.getByRole('listitem', { name: 'Notification 2: email' })).toContainText('to team@example.com on manualJudgment (custom text for 1)');

  await page.getByRole('region', { name: 'Create or edit a pipeline' }).screenshot({ path: path.join(screenshots, 'pipeline-editor-triggers.png') });
  await savePipeline(page);
  await expect(page.getByRole('status').filter({ hasText: 'Saved on-hook' })).toContainText('revision 2');

  // Fired from outside the browser; the Pipelines tab shows the run without a reload.
  await markWindow(page);
  const answer = fireWebhook(baseURL!, { build: { branch: 'main', number: 42 } });
  expect(answer.triggered, JSON.stringify(answer)).toHaveLength(1);
  expect(answer.triggered[0]).toMatchObject({ application, pipeline: 'on-hook' });
  const run = page.getByRole('list', { name: 'Runs of on-hook' }).getByRole('link', { name: /^on-hook \w+ by anonymous$/ });
  await expect(run).toHaveCount(1);
  await neverReloaded(page);

  // A payload off the constraint starts nothing, and the answer says why.
  const skipped = fireWebhook(baseURL!, { build: { branch: 'feature/x' } });
  expect(skipped.triggered).toHaveLength(0);
  expect(JSON.stringify(skipped.skipped)).toContain('feature/x');

  await run.click();
  await expect(page).toHaveURL(new RegExp(`/applications/${application}/executions/${answer.triggered[0].executionId}$`));
  const details = page.getByRole('region', { name: 'Trigger', exact: true });
  await expect(details).toContainText('webhook');
  await expect(details).toContainText(source);
  await expect(details).toContainText('anonymous');
  await expect(page.getByLabel('Execution status')).toHaveText('SUCCEEDED', { timeout: 15_000 });
  // The end of the run was posted to the receiver, and the page shows it, live.
  const sent = page.getByRole('table', { name: 'Notifications sent' }).getByRole('row').filter({ hasText: 'pipeline.complete' });
  await expect(sent).toContainText('webhook');
  await expect(sent).toContainText('sent');
  expect(notified.map((document) => document.event)).toContain('pipeline.complete');
  await page.screenshot({ path: path.join(screenshots, 'execution-trigger.png'), fullPage: true });

  // Its success started after-hook, whose page links back to this run.
  await page.getByRole('link', { name: 'Pipelines' }).click();
  const child = page.getByRole('list', { name: 'Runs of after-hook' }).getByRole('link');
  await expect(child).toHaveCount(1, { timeout: 15_000 });
  await child.click();
  const childTrigger = page.getByRole('region', { name: 'Trigger', exact: true });
  await expect(childTrigger).toContainText('pipeline');
  await childTrigger.getByRole('link', { name: `${application} / on-hook` }).click();
  await expect(page).toHaveURL(new RegExp(`/executions/${answer.triggered[0].executionId}$`));
  checkConsole();
});

test('a trigger the server refuses shows the error next to the field it names', async ({ page }) => {
  const checkConsole = failOnConsoleErrors(page, [/status of 400 \(Bad Request\)/]);
  await signInQuickly(page.request);
  await openHydrated(page, `/applications/${application}/pipelines`);
  // The editor starts with an example of a new pipeline.
  const add = addTriggerForm(page);
  await add.getByLabel('Type').selectOption('webhook');
  await add.getByLabel('Source').fill('refused');
  await add.getByRole('button', { name: 'Add constraint' }).click();
  await add.getByLabel('Payload field').fill('branch');
  await add.getByLabel('Regex for branch').fill('(');
  await add.getByRole('button', { name: 'Add trigger' }).click();
  await savePipeline(page);

  // The trigger's inputs open by themselves, the error under the regex it is about.
  const trigger = page.getByRole('listitem', { name: 'Trigger 1: webhook' });
  const regex = trigger.getByLabel('Regex for branch');
  await expect(regex).toBeVisible();
  await expect(regex).toHaveAttribute('aria-invalid', 'true');
  await expect(regex).toHaveAccessibleDescription(/"\(" is not a valid regex/);
  await expect(page.getByRole('alert')).toContainText('(triggers[0].payloadConstraints.branch)');

  // Fixed, but with the source emptied: now the Source input says what is wrong.
  await regex.fill('main');
  await trigger.getByLabel('Source').fill('');
  await savePipeline(page);
  await expect(trigger.getByLabel('Source')).toHaveAccessibleDescription(/source is 1 or more letters/);
  await expect(regex).not.toHaveAttribute('aria-invalid', 'true');
  checkConsole();
});
