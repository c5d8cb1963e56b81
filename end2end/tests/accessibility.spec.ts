// An accessibility and stability audit of the main pages with axe-core (the engine browser extensions and
// Lighthouse use), in light and dark colour schemes: no WCAG 2.1 A/AA violation. The pages are
// the demo's (see playwright.config.ts), read only: the execution scanned is a run of a small
// pipeline of an application of this file's own, so the demo's clusters stay as other specs
// expect them. Each page is scanned hydrated, as users see it; its layout must not have jumped
// while it loaded and hydrated; and a full-page screenshot of each is kept in
// target/e2e-artifacts/screenshots for reviewers.
import { test, expect, request as playwrightRequest, type Page } from '@playwright/test';
import AxeBuilder from '@axe-core/playwright';
import * as path from 'node:path';
import { openHydrated, signInQuickly } from './support/act';

const screenshots = path.resolve(__dirname, '../../target/e2e-artifacts/screenshots');

/** The page's cumulative layout shift since it started loading (Chromium's layout-shift
 *  entries, buffered): hydration must not move what the server rendered. 0.1 is the bound
 *  web.dev calls good. */
async function layoutShift(page: Page): Promise<number> {
  return page.evaluate(() => new Promise<number>((resolve) => {
    let total = 0;
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries() as any[]) if (!entry.hadRecentInput) total += entry.value;
    }).observe({ type: 'layout-shift', buffered: true });
    setTimeout(() => resolve(total), 200);
  }));
}

async function audit(page: Page, name: string) {
  const results = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  const found = results.violations.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ')}`);
  expect(found, `accessibility violations on ${name}`).toEqual([]);
}

let executionPath = '';

test.beforeAll(async ({ baseURL }) => {
  // One finished run with a judgment, for the execution page.
  const admin = await playwrightRequest.newContext({ baseURL });
  await signInQuickly(admin);
  const headers = { origin: baseURL! };
  const application = `audit${Date.now().toString(36)}`;
  expect((await admin.post('/api/v1/applications', { headers, data: { name: application } })).status()).toBe(201);
  const pipeline = { name: 'checked', stages: [
    { refId: '1', name: 'Prepare', type: 'evaluateVariables', variables: [{ key: 'x', value: '1' }] },
    { refId: '2', name: 'Settle', type: 'wait', waitTime: 0, requisiteStageRefIds: ['1'] },
  ] };
  expect((await admin.post(`/api/v1/applications/${application}/pipelines`, { headers, data: pipeline })).status()).toBe(200);
  const run = await (await admin.post(`/api/v1/applications/${application}/pipelines/checked/executions`, { headers, data: {} })).json();
  await expect.poll(async () => (await (await admin.get(`/api/v1/executions/${run.id}`)).json()).status, { timeout: 15_000 }).toBe('SUCCEEDED');
  executionPath = `/applications/${application}/executions/${run.id}`;
  await admin.dispose();
});

for (const scheme of ['light', 'dark'] as const) {
  test.describe(`${scheme} colour scheme`, () => {
    test.use({ colorScheme: scheme });

    test('the sign-in page', async ({ page }) => {
      await openHydrated(page, '/signin');
      await audit(page, 'sign-in');
    });

    const pages: [string, () => string][] = [
      ['applications', () => '/applications'],
      ['overview', () => '/applications/demo'],
      ['clusters', () => '/applications/demo/clusters'],
      ['pipelines', () => '/applications/demo/pipelines'],
      ['execution', () => executionPath],
      ['load-balancers', () => '/applications/demo/loadBalancers'],
      ['firewalls', () => '/applications/demo/firewalls'],
      ['tasks', () => '/applications/demo/tasks'],
      ['search', () => '/search?q=demo'],
      ['tokens', () => '/account/tokens'],
      ['audit', () => '/admin/audit'],
    ];
    for (const [name, where] of pages) {
      test(`the ${name} page`, async ({ page }) => {
        await signInQuickly(page.request);
        await openHydrated(page, where());
        expect(await layoutShift(page), `layout shift while ${name} loaded and hydrated`).toBeLessThan(0.1);
        if (name === 'pipelines') {
          // With the editor open on a stage, its form is audited too.
          await page.getByRole('button', { name: 'Edit Deploy demo' }).click();
          await page.getByRole('region', { name: 'Stages' }).getByRole('button', { name: 'Edit Deploy red/black' }).click();
        }
        await page.screenshot({ path: path.join(screenshots, `${name}-${scheme}.png`), fullPage: true });
        await audit(page, name);
      });
    }
  });
}
