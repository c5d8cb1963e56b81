// A gennaker of its own for a test that must start from an empty database: the same binary the
// suite's server runs, on another port, with a new SQLite file, no demo application, and the
// suite's admin password. `restart` stops it and starts it again on the same port and database
// (sessions survive, as they are stored); `stop` kills it (with its process group, so its
// instances too) and deletes its data.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ADMIN_PASSWORD } from './act';

export interface FreshServer {
  baseURL: string;
  restart: () => Promise<void>;
  stop: () => Promise<void>;
}

const binary = path.resolve(__dirname, '../..', process.env.GENNAKER_BINARY ?? '../target/debug/gennaker');

async function launch(dataDir: string, port: number): Promise<ChildProcess> {
  const child = spawn(binary, ['serve', '--listen', `127.0.0.1:${port}`, '--database-url', `sqlite://${dataDir}/gennaker.db`], {
    env: { ...process.env, GENNAKER_ADMIN_PASSWORD: ADMIN_PASSWORD, GENNAKER_SECRET_KEY_FILE: path.join(dataDir, 'secret.key') },
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
  });
  let stderr = '';
  child.stderr?.on('data', (chunk) => (stderr = (stderr + chunk).slice(-4000)));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`gennaker exited (${child.exitCode}): ${stderr}`);
    try {
      if ((await fetch(`http://127.0.0.1:${port}/readyz`)).ok) return child;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`gennaker did not answer on port ${port}: ${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function kill(child: ChildProcess) {
  if (child.exitCode !== null || !child.pid) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  process.kill(-child.pid, 'SIGTERM');
  await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000))]);
  if (child.exitCode === null) {
    process.kill(-child.pid, 'SIGKILL');
    await exited;
  }
}

export async function startFreshServer(port: number): Promise<FreshServer> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gennaker-fresh-'));
  let child = await launch(dataDir, port);
  return {
    baseURL: `http://127.0.0.1:${port}`,
    restart: async () => {
      await kill(child);
      child = await launch(dataDir, port);
    },
    stop: async () => {
      await kill(child);
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
