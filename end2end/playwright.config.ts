// Playwright runs the freshly built server (../target/debug/gennaker) on its own port with a new
// SQLite database, and drives Debian's Chromium (never a downloaded browser). `--demo` makes the
// server create the `demo` application on its first start, its balancer on the next port.
import { defineConfig } from '@playwright/test';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const port = Number(process.env.E2E_PORT ?? 3197);
const dataDir = process.env.E2E_DATA_DIR ?? fs.mkdtempSync(path.join(os.tmpdir(), 'gennaker-e2e-'));
process.env.E2E_DATA_DIR = dataDir; // workers load this file again: keep one folder
const binary = process.env.GENNAKER_BINARY ?? '../target/debug/gennaker';
export const adminPassword = 'e2e admin password';

export default defineConfig({
  testDir: './tests',
  timeout: 30_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [['list']],
  outputDir: '../target/e2e-artifacts',
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    browserName: 'chromium',
    screenshot: 'only-on-failure',
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
  },
  webServer: {
    command: `${binary} serve --listen 127.0.0.1:${port} --database-url sqlite://${dataDir}/gennaker.db --demo --demo-port ${port + 1}`,
    url: `http://127.0.0.1:${port}/readyz`,
    reuseExistingServer: false,
    timeout: 60_000,
    env: {
      GENNAKER_ADMIN_PASSWORD: adminPassword,
      GENNAKER_SECRET_KEY_FILE: path.join(dataDir, 'secret.key'),
      // The tests' webhook receivers listen on 127.0.0.1, which gennaker does not call unless allowed.
      GENNAKER_OUTBOUND_ALLOW: 'http://127.0.0.1',
    },
    stdout: 'ignore',
    stderr: 'pipe',
  },
});
