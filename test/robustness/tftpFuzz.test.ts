/**
 * TFTP fuzz: ≥ 1,000,000 malformed and mutated datagrams over loopback to Farrier's TFTP server (in a child
 * process) — to the listening port and to live transfer ports — while real clients (atftp, tftp-hpa) and a raw
 * client keep fetching files. The server must never exit, count exactly what it was sent, stay flat in memory
 * and descriptors, free every abandoned transfer, and every real transfer must arrive byte-exact.
 * FARRIER_TFTP_FUZZ_PACKETS changes the packet count (default 1,000,000).
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { prng } from '../helpers/prng.js';
import { findTool, requireTool, tempDir } from '../helpers/env.js';
import { ack, buildRrq, rawGet, type RawGetResult } from '../tftp/helpers/rawClient.js';
import { startTftpChild, type ChildStats, type TftpChild } from './tftpHarness.js';

const TOTAL = Number(process.env.FARRIER_TFTP_FUZZ_PACKETS ?? 1_000_000);
const ROUNDS = 10;
const BATCH = 128;
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));


type Expect = 'malformed' | 'rejected' | 'valid';
interface Packet {
  buf: Buffer;
  expect: Expect;
}

function makeGenerators(rand: () => number) {
  const int = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[int(0, xs.length - 1)] as T;
  const bytes = (n: number, nonZero = false): Buffer => {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = nonZero ? int(1, 255) : int(0, 255);
    return b;
  };
  const rrq = (name: string | Buffer, mode = 'octet', opts: [string, string][] = [], op = 1): Buffer =>
    Buffer.concat([Buffer.from([0, op]), typeof name === 'string' ? Buffer.from(name, 'latin1') : name, Buffer.from([0]), Buffer.from(`${mode}\0`, 'latin1'), ...opts.map(([k, v]) => Buffer.from(`${k}\0${v}\0`, 'latin1'))]);
  const template = rrq('nofile.bin', 'octet', [['blksize', '1468'], ['windowsize', '8'], ['tsize', '0']]);

  const gens: [number, string, () => Packet][] = [
    [15, 'short datagram', () => ({ buf: bytes(int(0, 8)), expect: 'malformed' })],
    [15, 'unknown opcode', () => {
      const b = bytes(int(9, 512));
      b.writeUInt16BE(pick([0, 3, 4, 5, 6, int(7, 65535)]), 0);
      return { buf: b, expect: 'malformed' };
    }],
    [3, 'option storm over 512 bytes', () => {
      const opts: [string, string][] = [];
      for (let i = 0; i < int(40, 120); i++) opts.push([`opt${i}`, String(int(0, 1e9))]);
      const b = rrq('pxelinux.0', 'octet', opts);
      return { buf: b.length > 512 ? b : Buffer.concat([b, Buffer.alloc(513 - b.length, 0x41)]), expect: 'rejected' };
    }],
    [10, 'RRQ without NUL terminators', () => ({ buf: Buffer.concat([Buffer.from([0, pick([1, 2])]), bytes(int(7, 510), true)]), expect: 'malformed' })],
    [15, 'truncated RRQ', () => {
      const k = int(2, template.length - 1);
      const prefix = template.subarray(0, k);
      let nuls = 0;
      for (let i = 2; i < k; i++) if (prefix[i] === 0) nuls++;
      const valid = k >= 9 && prefix[k - 1] === 0 && nuls >= 2 && nuls % 2 === 0;
      return { buf: Buffer.from(prefix), expect: valid ? 'valid' : 'malformed' };
    }],
    [8, 'unknown transfer mode', () => ({ buf: rrq('pxelinux.0', pick(['binary', 'ascii', 'OCTETS', 'x', 'image'])), expect: 'rejected' })],
    [5, 'WRQ', () => ({ buf: rrq(`upload-${int(0, 9)}`, 'octet', [], 2), expect: 'rejected' })],
    [10, 'absurd option value', () => {
      const opt = pick<[string, string]>([
        ['blksize', pick(['0', '1', '7', '65465', '99999999', '-5', 'abc', '1.5', ''])],
        ['windowsize', pick(['0', '65536', '-1', 'x', '', '1000000'])],
        ['tsize', pick(['5', '-1', 'big'])],
        ['rollover', pick(['2', '-1', 'y'])],
      ]);
      return { buf: rrq('pxelinux.0', 'octet', [opt]), expect: 'rejected' };
    }],
    [6, 'file name the parser refuses', () => ({
      buf: rrq(pick([Buffer.from('../etc/passwd'), Buffer.from('..'), Buffer.from('../../x'), Buffer.concat([Buffer.from('a'), bytes(int(1, 20)).map((x) => x | 0x80)])])),
      expect: 'rejected',
    })],
    [0.4, 'option storm within 512 bytes', () => {
      const opts: [string, string][] = [];
      for (let i = 0; i < int(1, 30); i++) opts.push([`x${i}`, String(int(0, 99))]);
      return { buf: rrq(`missing-${int(0, 99)}`, pick(['octet', 'OCTET', 'netascii']), opts), expect: 'valid' };
    }],
  ];
  const total = gens.reduce((s, g) => s + g[0], 0);
  const listener = (): { name: string; packet: Packet } => {
    let r = rand() * total;
    for (const [w, name, g] of gens) {
      r -= w;
      if (r < 0) return { name, packet: g() };
    }
    const last = gens[gens.length - 1] as [number, string, () => Packet];
    return { name: last[1], packet: last[2]() };
  };
  /** Anything at all, aimed at a transfer port from a foreign socket: the transfer must ignore it. */
  const transferPort = (): Buffer =>
    pick([
      () => bytes(int(0, 3)),
      () => Buffer.concat([Buffer.from([0, 5, 0, int(0, 8)]), Buffer.from('spoofed abort\0')]),
      () => ack(int(0, 65535)),
      () => Buffer.concat([Buffer.from([0, 3, int(0, 255), int(0, 255)]), bytes(int(0, 600))]),
      () => {
        const b = bytes(int(4, 80));
        b.writeUInt16BE(int(6, 65535), 0);
        return b;
      },
      () => Buffer.from([0, 6, ...Buffer.from('blksize\x0065464\0')]),
    ])();
  /** An RRQ abandoned after the server answers: the watchdog must free it. */
  const abandon = (): Buffer => buildRrq('loader.bin', pick<Record<string, number>>([{}, { blksize: 1468, windowsize: 16 }, { tsize: 0 }]));
  return { listener, transferPort, abandon, int, rand };
}

const run = (cmd: string, args: string[]): Promise<number> =>
  new Promise((resolve) => execFile(findTool(cmd) ?? cmd, args, { timeout: 120_000 }, (err) => resolve(err ? 1 : 0)));

async function bindMany(address: string, n: number): Promise<dgram.Socket[]> {
  const socks: dgram.Socket[] = [];
  for (let i = 0; i < n; i++) {
    const s = dgram.createSocket('udp4');
    s.on('message', () => {}); // replies (errors, OACKs, DATA) are read and discarded
    await new Promise<void>((r) => s.bind(0, address, r));
    socks.push(s);
  }
  return socks;
}

t.test(`${TOTAL} fuzzed datagrams: no exit, exact counters, flat memory, real transfers intact`, async (t) => {
  if (!requireTool(t, 'atftp') || !requireTool(t, 'tftp')) return;
  const seed = Number(process.env.FARRIER_TFTP_FUZZ_SEED ?? Date.now() % 1e9);
  t.comment(`seed ${seed} (FARRIER_TFTP_FUZZ_SEED replays it)`);
  const g = makeGenerators(prng(seed));
  const root = tempDir(t);
  const out = tempDir(t);
  const loader = randomBytes(1024 * 1024);
  const victimFile = randomBytes(1024 * 1024 + 17);
  writeFileSync(join(root, 'loader.bin'), loader);
  writeFileSync(join(root, 'victim.bin'), victimFile);
  const srv: TftpChild = await startTftpChild(t, root, { stallTimeoutMs: 2000 });

  // distinct loopback addresses keep each role in its own per-client cap: real clients use 127.0.0.1
  const garbage = await bindMany('127.0.0.2', 16);
  const abandoners = await bindMany('127.0.0.3', 8);
  const foreign = await bindMany('127.0.0.4', 8);
  t.teardown(() => [...garbage, ...abandoners, ...foreign].forEach((s) => s.close()));

  const expected = { malformed: 0, rejected: 0, valid: 0 };
  const perCategory = new Map<string, number>();
  let listenerSent = 0;
  let victimStrays = 0;
  let victimShort = 0;
  let otherPortPackets = 0;
  let sent = 0;
  let victimPort = 0;
  let otherPorts: number[] = [];
  let realClients = 0;
  const failures: string[] = [];

  const catchUp = async (): Promise<ChildStats> => {
    for (let i = 0; ; i++) {
      const s = await srv.stats();
      if (s.counters.datagrams >= listenerSent) return s;
      if (i > 2000) throw new Error(`server never caught up: ${JSON.stringify(s.counters)} vs sent ${listenerSent} (datagrams lost?)`);
      if (i > 20) await sleep(5);
    }
  };

  let statsStart: ChildStats | undefined;
  const started = Date.now();
  const perRound = Math.ceil(TOTAL / ROUNDS);
  for (let round = 0; round < ROUNDS; round++) {
    let slow = true;
    victimPort = 0;
    const victim: Promise<RawGetResult> = rawGet({
      host: '127.0.0.1', port: srv.port, file: 'victim.bin', blksize: 512, windowsize: 1, idleMs: 5000,
      onBlock: async (block, serverPort, sendFromClient) => {
        victimPort = serverPort;
        // old and duplicate ACKs from the client's own port: ignored by the window, never an abort
        sendFromClient(ack((block - 5) & 0xffff));
        sendFromClient(ack((block - 1) & 0xffff));
        // a datagram too short to be TFTP, from the client's own port: reaches the transfer and is counted
        victimShort++;
        sendFromClient(Buffer.alloc(block % 4, 4));
        if (slow) await sleep(20);
      },
    });
    const local = join(out, `real-${round}`);
    const real = round % 2 === 0
      ? run('atftp', ['--option', 'blksize 1468', '--option', 'windowsize 8', '-g', '-r', 'loader.bin', '-l', local, '127.0.0.1', String(srv.port)])
      : run('tftp', ['127.0.0.1', String(srv.port), '-m', 'binary', '-c', 'get', 'loader.bin', local]);
    realClients += 2;
    while (victimPort === 0) await sleep(5);

    for (let n = 0; n < perRound && sent < TOTAL; ) {
      if (n % (BATCH * 64) === 0) otherPorts = srv.transferPorts().filter((p) => p !== victimPort);
      for (let i = 0; i < BATCH && n < perRound && sent < TOTAL; i++, n++, sent++) {
        const r = g.rand();
        if (r < 0.7) {
          const { name, packet } = g.listener();
          perCategory.set(name, (perCategory.get(name) ?? 0) + 1);
          expected[packet.expect]++;
          listenerSent++;
          (garbage[g.int(0, garbage.length - 1)] as dgram.Socket).send(packet.buf, srv.port, '127.0.0.1');
        } else if (r < 0.701) {
          perCategory.set('abandoned RRQ', (perCategory.get('abandoned RRQ') ?? 0) + 1);
          expected.valid++;
          listenerSent++;
          (abandoners[g.int(0, abandoners.length - 1)] as dgram.Socket).send(g.abandon(), srv.port, '127.0.0.1');
        } else if (r < 0.98 || otherPorts.length === 0) {
          perCategory.set('to the live transfer port (foreign source)', (perCategory.get('to the live transfer port (foreign source)') ?? 0) + 1);
          victimStrays++;
          (foreign[g.int(0, foreign.length - 1)] as dgram.Socket).send(g.transferPort(), victimPort, '127.0.0.1');
        } else {
          perCategory.set("to real clients' transfer ports (foreign source)", (perCategory.get("to real clients' transfer ports (foreign source)") ?? 0) + 1);
          otherPortPackets++;
          (foreign[g.int(0, foreign.length - 1)] as dgram.Socket).send(g.transferPort(), otherPorts[g.int(0, otherPorts.length - 1)] as number, '127.0.0.1');
        }
      }
      await catchUp();
      if (round === 0 && !statsStart) statsStart = await srv.stats(true);
    }
    slow = false;
    const [v, code] = await Promise.all([victim, real]);
    if (v.error || sha(v.data) !== sha(victimFile)) failures.push(`round ${round}: raw client got ${v.data.length} bytes, error ${JSON.stringify(v.error)}`);
    if (code !== 0 || sha(readFileSync(local)) !== sha(loader)) failures.push(`round ${round}: ${round % 2 === 0 ? 'atftp' : 'tftp-hpa'} exit ${code}, content ${code === 0 ? 'differs' : 'n/a'}`);
    if (srv.exit()) break;
  }
  const seconds = (Date.now() - started) / 1000;
  t.equal(srv.exit(), undefined, 'the server process never exited');
  t.same(failures, [], `every interleaved real transfer (${ROUNDS} raw, ${ROUNDS / 2} atftp, ${ROUNDS / 2} tftp-hpa) arrived byte-exact`);

  // abandoned transfers time out and the watchdog frees them
  let end = await srv.stats();
  for (let i = 0; i < 100 && end.counters.active > 0; i++) {
    await sleep(100);
    end = await srv.stats();
  }
  end = await srv.stats(true);
  const c = end.counters;
  t.equal(sent, TOTAL, `${TOTAL} datagrams sent`);
  t.equal(c.active, 0, 'every abandoned transfer was freed');
  t.equal(c.malformed, expected.malformed, `malformed counter = malformed datagrams sent (${expected.malformed})`);
  t.equal(c.rejected, expected.rejected, `rejected counter = WRQs, oversize requests, bad names, modes and options sent (${expected.rejected})`);
  const clientRrqs = c.datagrams - listenerSent;
  t.ok(clientRrqs >= realClients && clientRrqs <= realClients * 4, `the listener saw every fuzz datagram plus the real clients' RRQs (${clientRrqs} for ${realClients} transfers)`);
  t.equal(c.requests + c.duplicates + c.busy, expected.valid + clientRrqs, 'every well-formed RRQ became a transfer, a duplicate or a busy drop');
  // transfer sockets are connected to their client: the kernel discards datagrams from any other address/port
  t.equal(c.strays, victimShort, `strays on transfer ports = the ${victimShort} short datagrams from the raw client's own port; none of the ${victimStrays + otherPortPackets} from foreign ports got through`);
  const start = statsStart as ChildStats;
  const mb = (n: number): string => (n / 1048576).toFixed(1);
  t.ok(end.rss < start.rss + 96 * 1048576, `RSS roughly flat: ${mb(start.rss)} MiB → ${mb(end.rss)} MiB`);
  t.ok(end.heapUsed < start.heapUsed * 2 + 16 * 1048576, `heap roughly flat: ${mb(start.heapUsed)} MiB → ${mb(end.heapUsed)} MiB`);
  t.ok(end.fds <= start.fds + 8, `descriptors back to idle: ${start.fds} → ${end.fds}`);
  t.comment(`sent ${sent} datagrams in ${seconds.toFixed(1)} s (${Math.round(sent / seconds)} pps); listener ${listenerSent}, live transfer ports ${victimStrays + otherPortPackets}`);
  t.comment(`per category: ${[...perCategory].map(([k, v]) => `${k} ${v}`).join(', ')}`);
  t.comment(`server counters: ${JSON.stringify(c)}`);
  t.comment(`RSS ${mb(start.rss)} → ${mb(end.rss)} MiB, heap ${mb(start.heapUsed)} → ${mb(end.heapUsed)} MiB, fds ${start.fds} → ${end.fds}`);
});
