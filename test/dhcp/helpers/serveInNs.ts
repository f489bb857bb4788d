/**
 * The real daemon (`farrier serve`: dist/ when fresh, else src/ through tap's TypeScript loader) as its own
 * process inside a namespace the test created, with DHCP on the named interfaces. Unlike the e2e helper it
 * waits for HTTP only (an interface may be meant to come up later), takes the log level, and reads the
 * process's kernel-side UDP counters and RSS through /proc/<pid> (which shows the process's own namespace).
 * API calls and metric scrapes run curl inside the namespace; nothing outside it can reach the daemon.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Test } from 'tap';
import { tempDir } from '../../helpers/env.js';
import { farrierCommand } from '../../e2e/lib/farrierNs.js';
import { listening, waitFor, type Netns, type NsProcess } from '../../e2e/lib/netns.js';

export interface ServedDaemon {
  proc: NsProcess;
  url: string;
  dataDir: string;
  /** Whether the process has exited (it must not during these tests). */
  exited(): boolean;
  api(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }>;
  /** GET /metrics as `name{labels}` → value. */
  metrics(): Promise<Map<string, number>>;
  log(): string;
  /** The daemon namespace's UDP counters (Udp: line of /proc/<pid>/net/snmp). */
  udp(): Record<string, number>;
  rssBytes(): number;
}

export async function serveInNs(
  t: Test,
  ns: Netns,
  opts: { address: string; dhcpInterfaces: string[]; httpPort?: number; logLevel?: string },
): Promise<ServedDaemon> {
  const dir = tempDir(t, 'farrier-dhcp-serve-');
  const dataDir = join(dir, 'data');
  const httpPort = opts.httpPort ?? 8091;
  const password = `t-${Math.random().toString(36).slice(2)}`;
  const logFile = join(dir, 'farrier.log');
  const cmd = farrierCommand();
  t.comment(`farrier serve from ${cmd.from}`);
  const args = ['serve', '--data-dir', dataDir, '--http-port', String(httpPort), '--http-host', '0.0.0.0', '--log-level', opts.logLevel ?? 'info'];
  for (const i of opts.dhcpInterfaces) args.push('--dhcp-interfaces', i);
  const proc = ns.spawn(process.execPath, [...cmd.args, ...args], { logFile, env: { ...process.env, FARRIER_ADMIN_PASSWORD: password } });
  let exited = false;
  void proc.exited.then(() => (exited = true));
  const log = (): string => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');
  await waitFor(async () => exited || (await listening(ns, 'tcp', httpPort)), 90_000, 'farrier serve to listen on HTTP').catch((err: Error) => {
    throw new Error(`${err.message}\n${log().slice(-3000)}`);
  });
  if (exited) throw new Error(`farrier serve exited:\n${log().slice(-3000)}`);
  const url = `http://${opts.address}:${httpPort}`;
  const curl = async (args: string[]): Promise<{ status: number; text: string }> => {
    const { stdout } = await ns.exec('curl', ['-sS', '-u', `admin:${password}`, '-w', '\n%{http_code}', ...args]);
    const cut = stdout.lastIndexOf('\n');
    return { status: Number(stdout.slice(cut + 1)), text: stdout.slice(0, cut) };
  };
  return {
    proc,
    url,
    dataDir,
    exited: () => exited,
    log,
    async api(method, path, body) {
      const data = body === undefined ? [] : ['-H', 'Content-Type: application/json', '--data-binary', JSON.stringify(body)];
      const r = await curl(['-X', method, ...data, `${url}${path}`]);
      let parsed: unknown = r.text;
      try {
        parsed = JSON.parse(r.text);
      } catch {
        // not JSON
      }
      return { status: r.status, body: parsed };
    },
    async metrics() {
      const r = await curl([`${url}/metrics`]);
      if (r.status !== 200) throw new Error(`GET /metrics: ${r.status} ${r.text.slice(0, 200)}`);
      const out = new Map<string, number>();
      for (const line of r.text.split('\n')) {
        if (line.startsWith('#') || !line.trim()) continue;
        const cut = line.lastIndexOf(' ');
        out.set(line.slice(0, cut), Number(line.slice(cut + 1)));
      }
      return out;
    },
    udp() {
      const lines = readFileSync(`/proc/${proc.pid}/net/snmp`, 'utf8').split('\n').filter((l) => l.startsWith('Udp:'));
      const names = lines[0]!.split(/\s+/).slice(1);
      const values = lines[1]!.split(/\s+/).slice(1).map(Number);
      return Object.fromEntries(names.map((n, i) => [n, values[i]!]));
    },
    rssBytes() {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${proc.pid}/status`, 'utf8'));
      return Number(m?.[1] ?? 0) * 1024;
    },
  };
}

/** Sum of the metric lines whose key starts with `prefix` (a name, or a name plus the start of its labels). */
export const metricSum = (m: Map<string, number>, prefix: string): number => [...m].filter(([k]) => k.startsWith(prefix)).reduce((a, [, v]) => a + v, 0);
