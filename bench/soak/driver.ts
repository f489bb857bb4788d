/**
 * Load driver for the soak run and the crash test, run as its own process inside a client network namespace
 * (so it reaches a daemon in a peer namespace). It mixes four kinds of traffic, each an independent loop:
 *
 * - dora: DHCP clients built on Farrier's codec (decode) and a hand-built request, talking to the server
 *   directly (bound to :68, replies come as broadcasts). Every ACK is recorded (`{"t":"ack",mac,ip}`), so a
 *   test can check afterwards that each lease a client was told it has is really stored.
 * - api: REST writes. `grow` creates machines and PUTs params on them, recording every 2xx (`obj`/`param`);
 *   `cycle` creates, edits, reads and deletes machines, so the database stays the same size over a long run.
 * - tftp / http: whole boot-file downloads, checked against the expected size.
 *
 * Config: one JSON argument (see DriverConfig). Stops after `durationSec` or on SIGTERM; then flushes the
 * record file and prints one `SUMMARY {...}` line with per-loop ok/fail counts and the first error messages.
 * A failure counts as an error unless `tolerateFailures` (the crash test kills the daemon on purpose).
 */
import dgram from 'node:dgram';
import { appendFileSync } from 'node:fs';
import { decode } from '../../src/dhcp/codec.js';
import { rawGet } from '../../test/tftp/helpers/rawClient.js';

interface DriverConfig {
  server: string;
  httpPort: number;
  /** user:password for the API. */
  auth: string;
  /** JSONL file receiving ack/obj/param records (grow mode and dora). */
  records?: string;
  durationSec?: number;
  /** Distinguishes MACs and names between runs against one database (crash rounds). */
  tag: string;
  dora?: { clients: number; macPool?: number; timeoutMs?: number; tries?: number; pauseMs?: number };
  api?: { writers: number; mode: 'grow' | 'cycle'; pauseMs?: number };
  tftp?: { clients: number; file: string; size: number; pauseMs?: number; tftpPort?: number };
  http?: { clients: number; file: string; size: number; pauseMs?: number };
  tolerateFailures?: boolean;
}

const cfg = JSON.parse(process.argv[2] ?? '{}') as DriverConfig;
const authHeader = `Basic ${Buffer.from(cfg.auth).toString('base64')}`;
const base = `http://${cfg.server}:${cfg.httpPort}`;
let stopping = false;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Tally {
  ok: number;
  fail: number;
}
const tallies: Record<string, Tally> = {};
const errors: string[] = [];
let errorCount = 0;
const tally = (loop: string): Tally => (tallies[loop] ??= { ok: 0, fail: 0 });
function failed(loop: string, message: string): void {
  tally(loop).fail++;
  errorCount++;
  if (errors.length < 20) errors.push(`${new Date().toISOString()} ${loop}: ${message}`);
}

let pendingRecords: string[] = [];
function record(r: Record<string, unknown>): void {
  if (cfg.records) pendingRecords.push(JSON.stringify(r));
}
function flushRecords(): void {
  if (!cfg.records || pendingRecords.length === 0) return;
  appendFileSync(cfg.records, `${pendingRecords.join('\n')}\n`);
  pendingRecords = [];
}

// ---- DHCP -------------------------------------------------------------------------------------------------

const dhcpSock = dgram.createSocket({ type: 'udp4', reuseAddr: true });
const waiting = new Map<number, (p: ReturnType<typeof decode>) => void>();

function request(type: number, mac: string, xid: number, opts: Array<[number, number[]]>): Buffer {
  const b = Buffer.alloc(240);
  b[0] = 1;
  b[1] = 1;
  b[2] = 6;
  b.writeUInt32BE(xid, 4);
  b.writeUInt16BE(0x8000, 10); // broadcast: this client has no address yet
  Buffer.from(mac.split(':').map((h) => parseInt(h, 16))).copy(b, 28);
  b.writeUInt32BE(0x63825363, 236);
  const o: number[] = [53, 1, type];
  for (const [code, v] of opts) o.push(code, v.length, ...v);
  o.push(255);
  const out = Buffer.concat([b, Buffer.from(o)]);
  return out.length >= 300 ? out : Buffer.concat([out, Buffer.alloc(300 - out.length)]);
}

const ipBytes = (ip: string): number[] => ip.split('.').map(Number);

async function exchange(packet: Buffer, xid: number, want: number[], timeoutMs: number, tries: number) {
  for (let attempt = 0; attempt < tries && !stopping; attempt++) {
    const reply = await new Promise<ReturnType<typeof decode> | undefined>((resolve) => {
      const timer = setTimeout(() => {
        waiting.delete(xid);
        resolve(undefined);
      }, timeoutMs);
      waiting.set(xid, (p) => {
        if (!want.includes(Number(p.options[53]))) return;
        clearTimeout(timer);
        waiting.delete(xid);
        resolve(p);
      });
      dhcpSock.send(packet, 67, cfg.server);
    });
    if (reply) return reply;
  }
  return undefined;
}

async function doraLoop(client: number): Promise<void> {
  const d = cfg.dora!;
  let n = 0;
  while (!stopping) {
    const i = n++;
    // A fixed pool of MACs renews the same leases over and over (a long run never exhausts the pool);
    // without one, every exchange is a new client.
    const id = d.macPool ? (client + i * d.clients) % d.macPool : client + i * d.clients;
    const mac = `02:${cfg.tag}:${[(id >> 24) & 0xff, (id >> 16) & 0xff, (id >> 8) & 0xff, id & 0xff].map((x) => x.toString(16).padStart(2, '0')).join(':')}`;
    const xid = Math.floor(Math.random() * 0xffffffff);
    const offer = await exchange(request(1, mac, xid, []), xid, [2], d.timeoutMs ?? 2000, d.tries ?? 4);
    if (stopping) break;
    if (!offer) {
      failed('dora', `no OFFER for ${mac}`);
      continue;
    }
    const ack = await exchange(request(3, mac, xid, [[50, ipBytes(offer.yiaddr)], [54, ipBytes(cfg.server)]]), xid, [5, 6], d.timeoutMs ?? 2000, d.tries ?? 4);
    if (ack && Number(ack.options[53]) === 5) {
      tally('dora').ok++;
      record({ t: 'ack', mac, ip: ack.yiaddr });
    } else if (!stopping) {
      failed('dora', ack ? `NAK for ${mac} ${offer.yiaddr}` : `no ACK for ${mac} ${offer.yiaddr}`);
    }
    if (d.pauseMs) await sleep(d.pauseMs);
  }
}

// ---- API --------------------------------------------------------------------------------------------------

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${base}/api/v1${path}`, {
    method,
    headers: { authorization: authHeader, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, json };
}

async function step(loop: string, what: string, fn: () => Promise<{ status: number; json: unknown }>, want: number): Promise<unknown> {
  try {
    const r = await fn();
    if (r.status === want) {
      tally(loop).ok++;
      return r.json ?? null;
    }
    failed(loop, `${what}: HTTP ${r.status} ${JSON.stringify(r.json).slice(0, 200)}`);
  } catch (err) {
    failed(loop, `${what}: ${(err as Error).message}`);
  }
  return undefined;
}

async function apiLoop(writer: number): Promise<void> {
  const a = cfg.api!;
  let i = 0;
  while (!stopping) {
    const n = i++;
    const name = `w${cfg.tag}-${writer}-${n}`;
    const mac = `0a:${cfg.tag}:${writer.toString(16).padStart(2, '0')}:${[(n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff].map((x) => x.toString(16).padStart(2, '0')).join(':')}`;
    const created = (await step('api', `create ${name}`, () => api('POST', '/machines', { name, macs: [mac] }), 201)) as { uuid?: string } | undefined;
    if (!created?.uuid) {
      // Back off: against a daemon that is down (the crash test) a refused connection returns at once.
      await sleep(Math.max(a.pauseMs ?? 0, 200));
      continue;
    }
    const uuid = created.uuid;
    record({ t: 'obj', kind: 'machines', uuid, name, mac });
    for (let p = 0; p < 3 && !stopping; p++) {
      const value = `${name}-v${p}`;
      const ok = await step('api', `put param p${p} on ${name}`, () => api('PUT', `/machines/${uuid}/params/p${p}`, value), 200);
      if (ok !== undefined) record({ t: 'param', uuid, name: `p${p}`, value });
    }
    if (a.mode === 'cycle' && !stopping) {
      const got = (await step('api', `get ${name}`, () => api('GET', `/machines/${uuid}`), 200)) as { params?: Record<string, unknown> } | undefined;
      if (got && got.params?.p2 !== `${name}-v2`) failed('api', `${name}: read back params ${JSON.stringify(got.params)}`);
      await step('api', `delete ${name}`, () => api('DELETE', `/machines/${uuid}`), 200);
    }
    if (a.pauseMs) await sleep(a.pauseMs);
  }
}

// ---- boot files -------------------------------------------------------------------------------------------

async function tftpLoop(): Promise<void> {
  const f = cfg.tftp!;
  while (!stopping) {
    const r = await rawGet({ host: cfg.server, port: f.tftpPort ?? 69, file: f.file, blksize: 1468, idleMs: 3000 });
    if (stopping) break;
    if (r.error || r.timedOut || r.data.length !== f.size) {
      failed('tftp', `${f.file}: ${r.error ? `error ${r.error.code} ${r.error.message}` : r.timedOut ? 'timed out' : `got ${r.data.length} bytes`}`);
    } else {
      tally('tftp').ok++;
    }
    if (f.pauseMs) await sleep(f.pauseMs);
  }
}

async function httpLoop(): Promise<void> {
  const h = cfg.http!;
  while (!stopping) {
    try {
      const res = await fetch(`${base}/${h.file}`, { signal: AbortSignal.timeout(30_000) });
      const body = Buffer.from(await res.arrayBuffer());
      if (res.status !== 200 || body.length !== h.size) failed('http', `${h.file}: HTTP ${res.status}, ${body.length} bytes`);
      else tally('http').ok++;
    } catch (err) {
      if (!stopping) failed('http', `${h.file}: ${(err as Error).message}`);
    }
    if (h.pauseMs) await sleep(h.pauseMs);
  }
}

// ---- main -------------------------------------------------------------------------------------------------

const loops: Promise<void>[] = [];
if (cfg.dora) {
  dhcpSock.on('message', (msg) => {
    try {
      const p = decode(msg);
      waiting.get(p.xid)?.(p);
    } catch {
      // not a DHCP reply
    }
  });
  await new Promise<void>((resolve) => dhcpSock.bind(68, '0.0.0.0', resolve));
  dhcpSock.setBroadcast(true);
  for (let c = 0; c < cfg.dora.clients; c++) loops.push(doraLoop(c));
}
for (let w = 0; w < (cfg.api?.writers ?? 0); w++) loops.push(apiLoop(w));
for (let c = 0; c < (cfg.tftp?.clients ?? 0); c++) loops.push(tftpLoop());
for (let c = 0; c < (cfg.http?.clients ?? 0); c++) loops.push(httpLoop());

const flusher = setInterval(flushRecords, 200);
const progress = setInterval(() => process.stdout.write(`PROGRESS ${JSON.stringify({ tallies, errors: errorCount })}\n`), 5000);
const stop = (): void => {
  stopping = true;
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
if (cfg.durationSec) setTimeout(stop, cfg.durationSec * 1000).unref();
process.stdout.write('DRIVER READY\n');

await Promise.all(loops);
clearInterval(flusher);
clearInterval(progress);
flushRecords();
if (cfg.dora) dhcpSock.close();
const countedErrors = cfg.tolerateFailures ? 0 : errorCount;
process.stdout.write(`SUMMARY ${JSON.stringify({ tallies, errors: countedErrors, failures: errorCount, firstErrors: errors })}\n`);
