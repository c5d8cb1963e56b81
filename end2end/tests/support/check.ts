// Checking what a user sees.
import { expect, type Page } from '@playwright/test';
import { applicationLink, serverGroupBox } from './find';

export async function seesApplication(page: Page, name: string) {
  await expect(applicationLink(page, name)).toBeVisible();
}

/** The server group's box shows `count` instances (live: this waits for the view to change). */
export async function seesInstanceCount(page: Page, serverGroup: string, count: number, timeout = 30_000) {
  await expect(serverGroupBox(page, serverGroup).getByTestId('instance-count')).toHaveText(String(count), { timeout });
}

export async function neverReloaded(page: Page) {
  expect(await page.evaluate(() => (window as any).__noReload), 'the page was never reloaded').toBe(true);
}
