// Finding things on a page the way a user does: by role and accessible name.
import type { Page } from '@playwright/test';

export const applicationsTable = (page: Page) => page.getByRole('table', { name: 'Applications' });
export const applicationLink = (page: Page, name: string) =>
  applicationsTable(page).getByRole('link', { name, exact: true });
export const createForm = (page: Page) => page.getByRole('form', { name: 'Create application' });
export const alert = (page: Page) => page.getByRole('alert');
