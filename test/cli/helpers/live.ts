/**
 * Support for the CLI's live tests: a real daemon started in-process on a loopback ephemeral port with a
 * temporary data dir, and `farrier` run against it: in-process through run() (cli), or as a real child
 * process of the compiled dist/cli/main.js (cliProcess, see built.ts).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import type { Test } from 'tap';
import { run } from '../../../src/cli/program.js';
import { loadConfig } from '../../../src/config.js';
import { startDaemon } from '../../../src/daemon.js';
import { builtCli } from './built.js';

export { builtCli };
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

/** The CLI's environment for a call against `live`: admin credentials unless `overrides` say otherwise. */
function cliEnv(live: Live | { endpoint: string }, overrides: CliOptions['env']): Record<string, string | undefined> {
  return {
    FARRIER_ENDPOINT: live.endpoint,
    FARRIER_USER: 'admin',
    FARRIER_PASSWORD: ADMIN_PASSWORD,
    FARRIER_TOKEN: undefined,
    ...overrides,
  };
}

/** Collects a stream's text; keeps collecting (and reports) writes after end instead of crashing the test. */
function collector(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  let text = '';
  stream.setEncoding('utf8').on('data', (s: string) => (text += s));
  stream.on('error', (err) => (text += `\n[stream error: ${err.message}]`));
  return { stream, text: () => text };
}

let inProcessQueue: Promise<unknown> = Promise.resolve();

/**
 * Runs `farrier <args>` in this process through the same `run()` that dist/cli/main.js calls, against
 * `live`, authenticated as admin unless env says otherwise. Argument parsing, the HTTP client, output and
 * exit codes are the real ones; only process startup is skipped (a child per call cost 0.5-4 s, which made
 * the CLI tests take minutes). Use cliProcess() where the process boundary itself is under test (exit status,
 * real stdin, signals). Calls are serialised because commander reads FARRIER_* from process.env.
 */
export function cli(live: Live | { endpoint: string }, args: string[], opts: CliOptions = {}): Promise<CliResult> {
  const call = inProcessQueue.then(async (): Promise<CliResult> => {
    const env = cliEnv(live, opts.env);
    const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
    const savedExitCode = process.exitCode;
    const setEnv = (vars: Record<string, string | undefined>): void => {
      for (const [k, v] of Object.entries(vars)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    };
    const stdout = collector();
    const stderr = collector();
    const stdin = Readable.from(opts.stdin === undefined || opts.stdin === '' ? [] : [opts.stdin]);
    setEnv(env);
    process.exitCode = undefined;
    try {
      const code = await run(args, { stdout: stdout.stream, stderr: stderr.stream, stdin, isTTY: false });
      await new Promise((resolve) => setImmediate(resolve));
      return { code, stdout: stdout.text(), stderr: stderr.text() };
    } finally {
      setEnv(saved);
      process.exitCode = savedExitCode;
    }
  });
  inProcessQueue = call.catch(() => undefined);
  return call;
}

/** Runs `farrier <args>` as a real child process (dist/cli/main.js) against `live`, like cli(). */
export function cliProcess(live: Live | { endpoint: string }, args: string[], opts: CliOptions = {}): Promise<CliResult> {
  const env: Record<string, string | undefined> = { ...process.env, ...cliEnv(live, opts.env) };
  for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [builtCli(), ...args], {
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
