import { test, expect, request as playwrightRequest } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { failOnConsoleErrors, openHydrated, signInQuickly } from './support/act';
import { serverGroupBox, serverGroupPanel } from './support/find';

// A server group built from source on the local cloud: its details panel shows the build's
// log (what the checkout and the build printed). The repository is a real git repository in a
// temporary folder, reached with a file:// URL.
const stamp = Date.now().toString(36);
const application = `src${stamp}`;
let repository = '';
let commit = '';

test.beforeAll(async ({ baseURL }) => {
  repository = fs.mkdtempSync(path.join(os.tmpdir(), 'gennaker-e2e-repo-'));
  fs.chmodSync(repository, 0o755);
  const git = (...args: string[]) =>
    execFileSync('git', args, { cwd: repository, env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.test', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.test' } })
      .toString()
      .trim();
  git('init', '--quiet', '--initial-branch=main');
  fs.writeFileSync(path.join(repository, 'index.src'), 'hello from source');
  git('add', '.');
  git('commit', '--quiet', '-m', 'first');
  commit = git('rev-parse', 'HEAD');
  const admin = await playwrightRequest.newContext({ baseURL });
  await signInQuickly(admin);
  const headers = { origin: baseURL! };
  expect((await admin.post('/api/v1/applications', { headers, data: { name: application } })).status()).toBe(201);
  const pipeline = {
    name: 'build', stages: [{ refId: '1', name: 'Deploy', type: 'deploy', clusters: [{
      application, stack: 'web', capacity: { min: 1, max: 1, desired: 1 },
      artifact: { type: 'git/repo', reference: `file://${repository}`, version: commit,
        buildCommand: ['sh', '-c', 'cp index.src index.html && echo "building $(cat index.src)"'],
        runCommand: ['sh', '-c', 'exec python3 -m http.server --bind 127.0.0.1 "$PORT"'] } }] }],
  };
  const saved = await admin.post(`/api/v1/applications/${application}/pipelines`, { headers, data: pipeline });
  expect(saved.status(), await saved.text()).toBe(200);
  const started = await admin.post(`/api/v1/applications/${application}/pipelines/build/executions`, { headers, data: {} });
  expect(started.status()).toBe(201);
  const id = (await started.json()).id;
  await expect(async () => {
    const run = await (await admin.get(`/api/v1/executions/${id}`)).json();
    expect(run.status, JSON.stringify(run.stages?.[0]?.error ?? '')).toBe('SUCCEEDED');
  }).toPass({ timeout: 60_000 });
  await admin.dispose();
});

test.afterAll(() => {
  if (repository) fs.rmSync(repository, { recursive: true, force: true });
});

test('a server group built from source shows its build log in its details', async ({ page }) => {
  const checkConsole = failOnConsoleErrors(page);
  await signInQuickly(page.request);
  await openHydrated(page, `/applications/${application}/clusters`);
  const name = `${application}-web-v000`;
  await serverGroupBox(page, name).click();
  const panel = serverGroupPanel(page, name);
  await panel.getByText('Build log', { exact: true }).click();
  await expect(panel.getByLabel('Build log', { exact: true })).toContainText('building hello from source');
  checkConsole();
});

test('the Create server group form makes a tagged server group', async ({ page }) => {
  const checkConsole = failOnConsoleErrors(page);
  await signInQuickly(page.request);
  await openHydrated(page, `/applications/${application}/clusters`);
  await page.getByText('Create server group', { exact: true }).click();
  const form = page.getByRole('form', { name: 'Create server group' });
  await form.getByLabel('Stack').fill('tagged');
  await form.getByLabel('Command (local; one argument per line)').fill('demo-app\n--version\nv5');
  await form.getByLabel('Version').fill('v5');
  await form.getByLabel('Tags (KEY=VALUE per line)').fill('team=payments');
  await form.getByRole('button', { name: 'Create' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Create server group in' })).toBeVisible();
  const name = `${application}-tagged-v000`;
  await expect(serverGroupBox(page, name)).toBeVisible({ timeout: 30_000 });
  await serverGroupBox(page, name).click();
  await expect(serverGroupPanel(page, name)).toContainText('team=payments');
  checkConsole();
});
