/**
 * Support for the CLI's live tests: a real daemon started in-process on a loopback ephemeral port with a
 * temporary data dir, and `farrier` run as a real child process (Node with tap's TypeScript loader on
 * src/cli/main.ts) against it.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';
import { loadConfig } from '../../../src/config.js';
import { startDaemon } from '../../../src/daemon.js';

export const MAIN = fileURLToPath(new URL('../../../src/cli/main.ts', import.meta.url));
export const ADMIN_PASSWORD = 'cli-test-admin-pw';

export interface Live {
  endpoint: string;
  dataDir: string;
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** Text written to the child's stdin (closed afterwards); stdin is empty otherwise. */
  stdin?: string;
  /** Extra or overriding environment variables; `undefined` removes one. */
  env?: Record<string, string | undefined>;
}

/** Starts a daemon for one test file and stops it (and removes its data dir) at teardown. */
export async function startLive(t: Test): Promise<Live> {
  const dataDir = mkdtempSync(join(tmpdir(), 'fcli-data-'));
  const config = loadConfig(
    {
      dataDir,
      httpPort: 0,
      httpHost: '127.0.0.1',
      tftpEnabled: false,
      dhcpEnabled: false,
      logLevel: 'silent',
    },
    {},
  );
  const daemon = await startDaemon(config, { env: { FARRIER_ADMIN_PASSWORD: ADMIN_PASSWORD }, handleSignals: false });
  t.teardown(async () => {
    await daemon.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  return { endpoint: daemon.url, dataDir };
}

/** Runs `farrier <args>` as a child process against `live`, authenticated as admin unless env says otherwise. */
export function cli(live: Live | { endpoint: string }, args: string[], opts: CliOptions = {}): Promise<CliResult> {
  const env: Record<string, string | undefined> = {
    ...process.env,
    FARRIER_ENDPOINT: live.endpoint,
    FARRIER_USER: 'admin',
    FARRIER_PASSWORD: ADMIN_PASSWORD,
    FARRIER_TOKEN: undefined,
    ...opts.env,
  };
  for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, MAIN, ...args], {
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(opts.stdin ?? '');
  });
}

/** Runs the CLI and parses its stdout as JSON, failing the test with stderr when it exits non-zero. */
export async function cliJson<T = unknown>(t: Test, live: Live, args: string[], opts: CliOptions = {}): Promise<T> {
  const res = await cli(live, [...args, '-o', 'json'], opts);
  if (res.code !== 0) {
    t.fail(`farrier ${args.join(' ')} exited ${res.code}: ${res.stderr}`);
    throw new Error(res.stderr);
  }
  return JSON.parse(res.stdout) as T;
}
