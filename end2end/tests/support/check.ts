// Checking what a user sees.
import { expect, type Page } from '@playwright/test';
import { applicationLink } from './find';

export async function seesApplication(page: Page, name: string) {
  await expect(applicationLink(page, name)).toBeVisible();
}
