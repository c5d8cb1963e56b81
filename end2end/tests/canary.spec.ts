// The Canary tab: an application's canary configurations, created with the form (a PromQL
// metric and a metric name with a filter template, group weights), listed, edited (revision 2),
// refused with the error naming its field (weights that do not add up to 100), pasted as
// Kayenta JSON, and deleted. The page also reads without JavaScript. A canary stage's report
// is reached from its execution page; while the analysis waits for its first interval it says
// so. (Reports with scores, metrics and charts are checked by the API tests, after a real
// analysis against Prometheus.) Both pages pass an axe audit (WCAG 2.1 A/AA).
import { test, expect, request as playwrightRequest, type Page } from '@playwright/test';
import AxeBuilder from '@axe-core/playwright';
import { failOnConsoleErrors, openHydrated, signInQuickly } from './support/act';
import { alert, applicationTab } from './support/find';

const application = `canary${Date.now().toString(36)}`;
const promql = 'sum(rate(http_requests_total{status=~"5..",version="${scope}"}[1m]))';

async function audit(page: Page, name: string) {
  const results = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  const found = results.violations.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ')}`);
  expect(found, `accessibility violations on ${name}`).toEqual([]);
}

test.beforeAll(async ({ baseURL }) => {
  const admin = await playwrightRequest.newContext({ baseURL });
  await signInQuickly(admin);
  expect((await admin.post('/api/v1/applications', { headers: { origin: baseURL! }, data: { name: application } })).status()).toBe(201);
  await admin.dispose();
});

test.beforeEach(async ({ page }) => {
  await signInQuickly(page.request);
});

test('a canary configuration is created, edited, refused when wrong, pasted as JSON and deleted', async ({ page }) => {
  const checkConsole = failOnConsoleErrors(page, [/status of 400 \(Bad Request\)/]);
  await openHydrated(page, `/applications/${application}`);
  await applicationTab(page, 'Canary').click();
  await expect(page).toHaveURL(new RegExp(`/applications/${application}/canary$`));
  await expect(page.getByText('No canary configurations yet')).toBeVisible();

  // Create: one metric in PromQL, a second added with Add metric, by name and filter template.
  const form = page.getByRole('form', { name: 'Canary configuration', exact: true });
  await expect(page.getByRole('heading', { name: 'New canary configuration' })).toBeVisible();
  await form.getByLabel('Configuration name').fill('golden-signals');
  await form.getByLabel('Description').fill('errors and latency');
  const first = form.getByRole('group', { name: 'Metric 1' });
  await first.getByLabel('Name', { exact: true }).fill('error-rate');
  await first.getByLabel('Groups').fill('Errors');
  await first.getByLabel('PromQL query').fill(promql);
  await first.getByLabel('Fails when it').selectOption('increase');
  await first.getByLabel(/Critical/).check();
  await form.getByRole('button', { name: 'Add metric' }).click();
  const second = form.getByRole('group', { name: 'Metric 2' });
  await second.getByLabel('Name', { exact: true }).fill('latency');
  await second.getByLabel('Groups').fill('Latency');
  await second.getByLabel('Or metric name').fill('http_request_duration_seconds');
  await second.getByLabel('Filter template').fill('version="${scope}"');
  await second.getByLabel('Missing values (NaN)').selectOption('replace');
  // A third row, added and removed again, is not saved.
  await form.getByRole('button', { name: 'Add metric' }).click();
  await expect(form.getByRole('group', { name: 'Metric 3' })).toHaveCount(1);
  await form.getByRole('button', { name: 'Remove metric 3' }).click();
  await expect(form.getByRole('group', { name: 'Metric 3' })).toHaveCount(0);
  await form.getByLabel(/Group weights/).fill('Errors=70\nLatency=30');
  await form.getByRole('button', { name: 'Save configuration' }).click();
  await expect(page.getByRole('status')).toContainText('Saved golden-signals (revision 1)');
  await expect(page).toHaveURL(/\?edit=/);

  const table = page.getByRole('table', { name: 'Canary configurations' });
  const row = table.getByRole('row').filter({ hasText: 'golden-signals' });
  await expect(row.getByRole('cell').nth(1)).toHaveText('2');
  await expect(row.getByRole('cell').nth(2)).toHaveText('1');
  await expect(row).toContainText('admin');

  // Saved in Kayenta's shape.
  const listed = await (await page.request.get(`/api/v1/applications/${application}/canaryConfigs`)).json();
  expect(listed).toHaveLength(1);
  const saved = listed[0];
  expect(saved.name).toBe('golden-signals');
  expect(saved.applications).toEqual([application]);
  expect(saved.metrics[0].query).toMatchObject({ type: 'prometheus', customInlineTemplate: `PromQL: ${promql}` });
  expect(saved.metrics[0].analysisConfigurations.canary).toMatchObject({ direction: 'increase', critical: true, nanStrategy: 'remove' });
  expect(saved.metrics[1].query).toMatchObject({ type: 'prometheus', metricName: 'http_request_duration_seconds', customInlineTemplate: 'version="${scope}"' });
  expect(saved.metrics[1].analysisConfigurations.canary).toMatchObject({ direction: 'either', critical: false, nanStrategy: 'replace' });
  expect(saved.classifier.groupWeights).toEqual({ Errors: 70, Latency: 30 });

  // Edit: the form holds the saved config; saving makes revision 2.
  await expect(page.getByRole('heading', { name: 'Edit golden-signals (revision 1)' })).toBeVisible();
  await expect(form.getByRole('group', { name: 'Metric 1' }).getByLabel('PromQL query')).toHaveValue(promql);
  await form.getByLabel('Description').fill('errors and latency, judged');
  await form.getByRole('button', { name: 'Save configuration' }).click();
  await expect(page.getByRole('status')).toContainText('Saved golden-signals (revision 2)');
  await expect(row.getByRole('cell').nth(2)).toHaveText('2');
  await expect(page.getByRole('heading', { name: 'Edit golden-signals (revision 2)' })).toBeVisible();

  // Weights that do not add up to 100: refused, the error names the field, what was typed stays.
  const weights = form.getByLabel(/Group weights/);
  await weights.fill('Errors=70\nLatency=20');
  await form.getByRole('button', { name: 'Save configuration' }).click();
  await expect(alert(page)).toContainText('add up to 90');
  await expect(alert(page)).toContainText('(classifier.groupWeights)');
  await expect(weights).toHaveValue('Errors=70\nLatency=20');
  await expect(row.getByRole('cell').nth(2)).toHaveText('2');

  // Edit as JSON: a Kayenta config pasted as it is makes a second configuration.
  await page.getByText('Edit as JSON').click();
  const jsonForm = page.getByRole('form', { name: 'Canary configuration JSON' });
  await expect(jsonForm.getByLabel('Kayenta JSON')).toHaveValue(/"revision": 2/);
  await jsonForm.getByLabel('Kayenta JSON').fill(JSON.stringify({
    name: 'pasted', judge: { name: 'NetflixACAJudge-v1.0', judgeConfigurations: {} },
    metrics: [{ name: 'cpu', groups: ['System'], scopeName: 'default',
      query: { type: 'prometheus', metricName: 'process_cpu_seconds_total', serviceType: 'prometheus' },
      analysisConfigurations: { canary: { direction: 'increase' } } }],
    templates: {}, classifier: { groupWeights: { System: 100 }, scoreThresholds: { pass: 95, marginal: 75 } },
  }));
  await jsonForm.getByRole('button', { name: 'Save JSON' }).click();
  await expect(page.getByRole('status')).toContainText('Saved pasted (revision 1)');
  await expect(table.getByRole('row').filter({ hasText: 'pasted' })).toHaveCount(1);

  // Delete both.
  for (const name of ['golden-signals', 'pasted']) {
    const line = table.getByRole('row').filter({ hasText: name });
    await line.getByText('Delete…').click();
    await line.getByRole('button', { name: `Delete ${name}` }).click();
    await expect(table.getByRole('row').filter({ hasText: name })).toHaveCount(0);
  }
  await expect(page.getByText('No canary configurations yet')).toBeVisible();
  expect(await (await page.request.get(`/api/v1/applications/${application}/canaryConfigs`)).json()).toEqual([]);
  checkConsole();
});

test('the configurations read without JavaScript', async ({ page, baseURL }) => {
  const config = {
    name: 'server-rendered',
    metrics: [{ name: 'errors', groups: ['Errors'], query: { type: 'prometheus', customInlineTemplate: 'PromQL: sum(up)' } }],
  };
  const created = await page.request.post(`/api/v1/applications/${application}/canaryConfigs`, { headers: { origin: baseURL! }, data: config });
  expect(created.status()).toBe(200);
  const { id } = await created.json();
  const html = await (await page.request.get(`/applications/${application}/canary?edit=${id}`)).text();
  expect(html).toContain('aria-label="Canary configurations"');
  expect(html).toContain('server-rendered');
  expect(html).toContain('Edit server-rendered (revision 1)');
  expect(html).toContain('value="sum(up)"');
  expect((await page.request.delete(`/api/v1/canaryConfigs/${id}`, { headers: { origin: baseURL! } })).status()).toBeLessThan(300);
});

test('a canary stage links its report, which says what the analysis waits for', async ({ page, baseURL }) => {
  const checkConsole = failOnConsoleErrors(page);
  const headers = { origin: baseURL! };
  // A config, and a metrics account that is not read before the first interval ends (in an hour).
  const account = `${application}-metrics`;
  expect((await page.request.put(`/api/v1/clouds/accounts/${account}`,
    { headers, data: { cloudProvider: 'prometheus', prometheus: { baseUrl: 'http://127.0.0.1:9' } } })).ok()).toBe(true);
  const config = await page.request.post(`/api/v1/applications/${application}/canaryConfigs`, { headers, data: {
    name: 'waiting', metrics: [{ name: 'errors', groups: ['Errors'], query: { type: 'prometheus', customInlineTemplate: 'PromQL: sum(up)' } }],
  } });
  expect(config.status()).toBe(200);
  const configId = (await config.json()).id;
  const pipeline = { name: 'judged', stages: [{ refId: '1', name: 'Judge the canary', type: 'kayentaCanary', analysisType: 'realTime', canaryConfig: {
    canaryConfigId: configId, metricsAccountName: account, beginCanaryAnalysisAfterMins: '60', lifetimeDuration: 'PT1H',
    scoreThresholds: { pass: '90', marginal: '60' },
    scopes: [{ scopeName: 'default', controlScope: `${application}-baseline-v000`, experimentScope: `${application}-canary-v000` }],
  } }] };
  expect((await page.request.post(`/api/v1/applications/${application}/pipelines`, { headers, data: pipeline })).status()).toBe(200);
  const run = await (await page.request.post(`/api/v1/applications/${application}/pipelines/judged/executions`, { headers, data: {} })).json();
  await expect.poll(async () => {
    const execution = await (await page.request.get(`/api/v1/executions/${run.id}`)).json();
    return execution.stages[0].context.nextIntervalEndIso ?? '';
  }, { timeout: 15_000 }).not.toBe('');

  await openHydrated(page, `/applications/${application}/executions/${run.id}`);
  await page.getByRole('link', { name: 'Canary report: Judge the canary' }).click();
  await expect(page).toHaveURL(new RegExp(`/executions/${run.id}/canary/`));
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Canary report: Judge the canary');
  await expect(page.getByText(/waiting for the first interval \(ends at \d{4}-/)).toBeVisible();
  await expect(page.getByRole('definition').filter({ hasText: 'pass 90, marginal 60' })).toBeVisible();
  await expect(page.getByRole('link', { name: configId })).toHaveAttribute('href', `/applications/${application}/canary?edit=${configId}`);
  // Without the running badge's pulse, which axe would catch mid-fade.
  for (const scheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme: scheme, reducedMotion: 'reduce' });
    await audit(page, `canary report (${scheme})`);
  }

  // The configurations page, with the config in the form, audited as well.
  await page.getByRole('link', { name: configId }).click();
  await expect(page.getByRole('heading', { name: 'Edit waiting (revision 1)' })).toBeVisible();
  await page.getByText('Edit as JSON').click();
  for (const scheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    await audit(page, `canary configurations (${scheme})`);
  }
  checkConsole();

  // Nothing left running or pointing at a closed port.
  expect((await page.request.put(`/api/v1/executions/${run.id}/cancel`, { headers })).ok()).toBe(true);
  await expect.poll(async () => (await (await page.request.get(`/api/v1/executions/${run.id}`)).json()).status, { timeout: 15_000 }).toBe('CANCELED');
  expect((await page.request.delete(`/api/v1/canaryConfigs/${configId}`, { headers })).ok()).toBe(true);
  expect((await page.request.delete(`/api/v1/clouds/accounts/${account}`, { headers })).ok()).toBe(true);
});
