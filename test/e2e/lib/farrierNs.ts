/**
 * The real Farrier daemon (`farrier serve`) as its own process inside a test namespace, serving DHCP on the
 * lab bridge, TFTP and HTTP on their standard ports. The API is reached with curl run inside the namespace
 * (nothing in the root namespace can reach it), and every bus event is collected from the SSE stream
 * (`GET /api/v1/events`) by a curl that runs for the whole test.
 *
 * The daemon runs from dist/ when it is at least as new as every source file (CI builds it in `npm ci`),
 * otherwise from src/ with the TypeScript loader tap uses, so a test never runs stale code.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';
import type { FarrierEvent } from '../../../src/model/types.js';
import { tempDir } from '../../helpers/env.js';
import { curlResponse } from './curl.js';
import { listening, waitFor, type Netns, type NsProcess } from './netns.js';
import { tsLoaderArgs } from './tsScript.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

export interface ApiResult {
  status: number;
  text: string;
  body: unknown;
}

export interface FarrierInNs {
  url: string;
  dataDir: string;
  process: NsProcess;
  /** An API call from inside the namespace: admin basic auth unless `token` is given. */
  api(method: string, path: string, body?: unknown, opts?: { token?: string }): Promise<ApiResult>;
  /** Every event the daemon published since start (read from the SSE stream's log). */
  events(): FarrierEvent[];
  /** The daemon's own log so far (for failure messages). */
  log(): string;
}

const newestMtime = (dir: string, ext: string): number =>
  readdirSync(dir, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith(ext))
    .reduce((m, f) => Math.max(m, statSync(join(dir, f)).mtimeMs), 0);

/** `node dist/cli/main.js` when dist is fresh, else `node --import <ts loader> src/cli/main.ts`. */
export function farrierCommand(): { args: string[]; from: 'dist' | 'src' } {
  const dist = join(repoRoot, 'dist/cli/main.js');
  if (existsSync(dist) && newestMtime(join(repoRoot, 'dist'), '.js') >= newestMtime(join(repoRoot, 'src'), '.ts')) {
    return { args: [dist], from: 'dist' };
  }
  return { args: [...tsLoaderArgs(), join(repoRoot, 'src/cli/main.ts')], from: 'src' };
}

/**
 * Starts `farrier serve` inside `ns` with a fresh data dir (`prepare` may fill it first), DHCP on
 * `dhcpInterface`, HTTP on `address`:`httpPort`; resolves once DHCP, TFTP and HTTP listen.
 */
export async function startFarrierInNs(
  t: Test,
  ns: Netns,
  opts: { address: string; dhcpInterface: string; httpPort?: number; prepare?: (dataDir: string) => void },
): Promise<FarrierInNs> {
  const dir = tempDir(t, 'farrier-e2e-daemon-');
  const dataDir = join(dir, 'data');
  opts.prepare?.(dataDir);
  const httpPort = opts.httpPort ?? 8091;
  const password = `e2e-${Math.random().toString(36).slice(2)}`;
  const logFile = join(dir, 'farrier.log');
  const cmd = farrierCommand();
  t.comment(`farrier serve from ${cmd.from}`);
  const proc = ns.spawn(
    process.execPath,
    [...cmd.args, 'serve', '--data-dir', dataDir, '--http-port', String(httpPort), '--http-host', '0.0.0.0', '--strict', '--dhcp-interfaces', opts.dhcpInterface, '--log-level', 'info'],
    { logFile, env: { ...process.env, FARRIER_ADMIN_PASSWORD: password } },
  );
  let exited = false;
  void proc.exited.then(() => (exited = true));
  const log = (): string => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');
  await waitFor(
    async () => exited || ((await listening(ns, 'tcp', httpPort)) && (await listening(ns, 'udp', 67)) && (await listening(ns, 'udp', 69))),
    90_000,
    'farrier serve to listen on HTTP, DHCP and TFTP',
  ).catch((err: Error) => {
    throw new Error(`${err.message}\n${log().slice(-3000)}`);
  });
  if (exited) throw new Error(`farrier serve exited:\n${log().slice(-3000)}`);

  const url = `http://${opts.address}:${httpPort}`;
  const api: FarrierInNs['api'] = async (method, path, body, o = {}) => {
    const auth = o.token ? ['-H', `Authorization: Bearer ${o.token}`] : ['-u', `admin:${password}`];
    const data = body === undefined ? [] : ['-H', 'Content-Type: application/json', '--data-binary', JSON.stringify(body)];
    const { stdout } = await ns.exec('curl', ['-sS', '-X', method, ...auth, ...data, '-w', '\n%{http_code}', `${url}${path}`]);
    return curlResponse(stdout);
  };

  const sseLog = join(dir, 'events.sse');
  ns.spawn('curl', ['-sN', '-u', `admin:${password}`, `${url}/api/v1/events`], { logFile: sseLog });
  // The stream's first line proves the subscription is live before anything the test does next
  await waitFor(() => existsSync(sseLog) && readFileSync(sseLog, 'utf8').startsWith(': farrier events'), 30_000, 'the event stream');
  const events = (): FarrierEvent[] =>
    existsSync(sseLog)
      ? readFileSync(sseLog, 'utf8')
          .split('\n')
          .filter((l) => l.startsWith('data:'))
          .flatMap((l) => {
            try {
              return [JSON.parse(l.slice(5)) as FarrierEvent];
            } catch {
              return [];
            }
          })
      : [];
  return { url, dataDir, process: proc, api, events, log };
}
