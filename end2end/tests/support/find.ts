// Finding things on a page the way a user does: by role and accessible name.
import type { Page } from '@playwright/test';

export const applicationsTable = (page: Page) => page.getByRole('table', { name: 'Applications' });
export const applicationLink = (page: Page, name: string) =>
  applicationsTable(page).getByRole('link', { name, exact: true });
export const createForm = (page: Page) => page.getByRole('form', { name: 'Create application' });
export const alert = (page: Page) => page.getByRole('alert');

// Application pages
export const applicationTab = (page: Page, name: string) =>
  page.getByRole('navigation', { name: 'Application' }).getByRole('link', { name, exact: true });
/** A server group's box on the Clusters tab (`data-testid`, as a box shows several names). */
export const serverGroupBox = (page: Page, name: string) => page.getByTestId(`server-group-${name}`);
export const serverGroupPanel = (page: Page, name: string) =>
  page.getByRole('complementary', { name: `Server group ${name}` });
