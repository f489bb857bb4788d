/**
 * The robustness tests' lab: a server namespace running the real `farrier serve` and a client namespace at
 * the other end of a veth (10.77.0.1/16 ↔ 10.77.0.2/16). Unlike test/e2e/lib/farrierNs.ts the daemon keeps
 * one data directory across restarts (it is killed and started again on the same database), and the client
 * side runs bench/soak/driver.ts (DHCP codec clients, API writers, boot-file downloads) and perfdhcp.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';
import { tempDir } from '../helpers/env.js';
import { curlResponse } from '../e2e/lib/curl.js';
import { farrierCommand } from '../e2e/lib/farrierNs.js';
import { createNetns, createVethPair, listening, waitFor, type Netns, type NsProcess } from '../e2e/lib/netns.js';
import { tsLoaderArgs } from '../e2e/lib/tsScript.js';

export const SERVER_IP = '10.77.0.1';
export const HTTP_PORT = 8091;
const driverPath = fileURLToPath(new URL('../../bench/soak/driver.ts', import.meta.url));

export interface Lab {
  srv: Netns;
  cli: Netns;
  dir: string;
  dataDir: string;
  password: string;
  logFile: string;
  /** Starts `farrier serve` on the lab's data dir; resolves once HTTP, DHCP (unless `dhcp: false`) and TFTP listen. */
  start(extraArgs?: string[], env?: NodeJS.ProcessEnv, expect?: { dhcp?: boolean }): Promise<NsProcess>;
  /** curl from the client namespace, as admin. */
  api(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }>;
  /** GET of a path outside the API (boot files, /metrics) over HTTP, or of a file over TFTP, from the client namespace. */
  fetch(url: string): Promise<{ status: number; text: string }>;
  log(): string;
}

/** `dataDir`: where the daemon keeps its data (default: a fresh directory), e.g. a small tmpfs mount. */
export async function createLab(t: Test, prefix: string, opts: { dataDir?: string } = {}): Promise<Lab> {
  const srv = await createNetns(t, `${prefix}s`);
  const cli = await createNetns(t, `${prefix}c`);
  await createVethPair({ ns: srv, ifname: 'vsrv', address: `${SERVER_IP}/16` }, { ns: cli, ifname: 'vcli', address: '10.77.0.2/16' });
  const dir = tempDir(t, `farrier-${prefix}-`);
  const dataDir = opts.dataDir ?? join(dir, 'data');
  const logFile = join(dir, 'farrier.log');
  const password = `rb-${Math.random().toString(36).slice(2)}`;
  const log = (): string => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');
  const cmd = farrierCommand();
  t.comment(`farrier serve from ${cmd.from}`);

  const start: Lab['start'] = async (extraArgs = [], env = {}, expect = {}) => {
    const proc = srv.spawn(
      process.execPath,
      [...cmd.args, 'serve', '--data-dir', dataDir, '--http-port', String(HTTP_PORT), '--http-host', '0.0.0.0', '--dhcp-interfaces', 'vsrv', ...extraArgs],
      { logFile, env: { ...process.env, FARRIER_ADMIN_PASSWORD: password, ...env } },
    );
    let exited = false;
    void proc.exited.then(() => (exited = true));
    await waitFor(
      async () =>
        exited || ((await listening(srv, 'tcp', HTTP_PORT)) && (expect.dhcp === false || (await listening(srv, 'udp', 67))) && (await listening(srv, 'udp', 69))),
      90_000,
      `farrier serve to listen on HTTP, ${expect.dhcp === false ? '' : 'DHCP '}and TFTP`,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${log().slice(-3000)}`);
    });
    if (exited) throw new Error(`farrier serve exited:\n${log().slice(-3000)}`);
    return proc;
  };

  const api: Lab['api'] = async (method, path, body) => {
    const data = body === undefined ? [] : ['-H', 'Content-Type: application/json', '--data-binary', JSON.stringify(body)];
    const { stdout } = await cli.exec('curl', ['-sS', '-m', '30', '-X', method, '-u', `admin:${password}`, ...data, '-w', '\n%{http_code}', `http://${SERVER_IP}:${HTTP_PORT}/api/v1${path}`]);
    const res = curlResponse(stdout);
    return { status: res.status, body: res.body };
  };

  const fetchText: Lab['fetch'] = async (url) => {
    const { stdout } = await cli.exec('curl', ['-sS', '-m', '30', '-w', '\n%{response_code}', url]).catch((err: Error & { stdout?: string }) => ({ stdout: `${err.stdout ?? ''}\n0` }));
    const cut = stdout.lastIndexOf('\n');
    return { status: Number(stdout.slice(cut + 1)), text: stdout.slice(0, cut) };
  };

  return { srv, cli, dir, dataDir, password, logFile, start, api, fetch: fetchText, log };
}

/** The lab's subnet: the whole /16 behind the veth, a large pool so perfdhcp never exhausts it. */
export const labSubnet = {
  name: 'lab',
  cidr: '10.77.0.0/16',
  activeStart: '10.77.1.0',
  activeEnd: '10.77.250.255',
  leaseTime: 3600,
};

export interface DriverSummary {
  tallies: Record<string, { ok: number; fail: number }>;
  errors: number;
  failures: number;
  firstErrors: string[];
}

export interface Driver {
  proc: NsProcess;
  /** SIGTERM, then the driver's final summary. */
  stop(): Promise<DriverSummary>;
  /** Resolves with the summary once the driver ends by itself (durationSec). */
  done(): Promise<DriverSummary>;
  output(): string;
}

/** Runs bench/soak/driver.ts in the client namespace with `config` (see DriverConfig there). */
export async function startDriver(lab: Lab, config: Record<string, unknown>, outFile: string): Promise<Driver> {
  const proc = lab.cli.spawn(
    process.execPath,
    [...tsLoaderArgs(), driverPath, JSON.stringify({ server: SERVER_IP, httpPort: HTTP_PORT, auth: `admin:${lab.password}`, ...config })],
    { logFile: outFile },
  );
  const output = (): string => (existsSync(outFile) ? readFileSync(outFile, 'utf8') : '');
  await waitFor(() => output().includes('DRIVER READY') || proc.child.exitCode !== null, 60_000, 'the load driver');
  const summary = async (): Promise<DriverSummary> => {
    await proc.exited;
    const line = output().split('\n').find((l) => l.startsWith('SUMMARY '));
    if (!line) throw new Error(`driver ended without a summary:\n${output().slice(-3000)}`);
    return JSON.parse(line.slice('SUMMARY '.length)) as DriverSummary;
  };
  return {
    proc,
    output,
    done: summary,
    stop: async () => {
      if (proc.child.exitCode === null) proc.child.kill('SIGTERM');
      return summary();
    },
  };
}

/** The JSONL records a driver wrote (acks, objects, params). */
export function readRecords(file: string): Array<Record<string, string>> {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, string>);
}
