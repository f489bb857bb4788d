/**
 * TFTP resources: clients that stop ACKing mid-transfer (one, then 500 at once), one client opening thousands
 * of transfers, and the global cap — the server (a child process) stays bounded in transfers, descriptors and
 * memory (files streamed from disk hold a descriptor and a small read-ahead each; small files come from the
 * shared file cache), frees everything, and a real client (atftp) still gets its file byte-exact meanwhile.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { findTool, requireTool, tempDir } from '../helpers/env.js';
import { ack, buildRrq } from '../tftp/helpers/rawClient.js';
import { startTftpChild, type ChildStats, type TftpChild } from './tftpHarness.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const mb = (n: number): string => (n / 1048576).toFixed(1);

/** A client that ACKs DATA up to block `ackUntil` (0: not even the first), then goes silent for good. */
async function stallingClient(address: string, serverPort: number, file: string, ackUntil: number): Promise<{ socket: dgram.Socket; reached: Promise<void> }> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((r) => socket.bind(0, address, r));
  const reached = new Promise<void>((resolve) => {
    socket.on('message', (msg, rinfo) => {
      if (msg.length < 4) return;
      const op = msg.readUInt16BE(0);
      if (op === 6 && ackUntil > 0) socket.send(ack(0), rinfo.port, rinfo.address);
      if (op !== 3) return;
      const block = msg.readUInt16BE(2);
      if (block <= ackUntil) socket.send(ack(block), rinfo.port, rinfo.address);
      if (block >= ackUntil) resolve();
    });
  });
  socket.send(buildRrq(file, { blksize: 512 }), serverPort, '127.0.0.1');
  return { socket, reached };
}

const atftpGet = (srv: TftpChild, remote: string, local: string): Promise<number> =>
  new Promise((resolve) =>
    execFile(findTool('atftp') ?? 'atftp', ['--option', 'blksize 1468', '--option', 'windowsize 8', '-g', '-r', remote, '-l', local, '127.0.0.1', String(srv.port)], { timeout: 120_000 }, (err) =>
      resolve(err ? 1 : 0),
    ),
  );

/**
 * Opens `count` stalling clients, 50 at a time, waiting for the listener to have read each group: a burst larger
 * than the listening socket's receive buffer would be dropped by the kernel, and these clients never retry.
 */
async function openStalling(srv: TftpChild, sockets: dgram.Socket[], count: number, address: (i: number) => string, ackUntil: (i: number) => number, file = 'loader.bin'): Promise<Promise<void>[]> {
  const reached: Promise<void>[] = [];
  const before = (await srv.stats()).counters.datagrams;
  for (let i = 0; i < count; i++) {
    const c = await stallingClient(address(i), srv.port, file, ackUntil(i));
    sockets.push(c.socket);
    reached.push(c.reached);
    if ((i + 1) % 50 === 0 || i === count - 1) {
      for (let j = 0; j < 500 && (await srv.stats()).counters.datagrams < before + i + 1; j++) await sleep(2);
    }
  }
  return reached;
}

async function waitIdle(srv: TftpChild): Promise<ChildStats> {
  let s = await srv.stats();
  for (let i = 0; i < 300 && s.counters.active > 0; i++) {
    await sleep(100);
    s = await srv.stats();
  }
  return srv.stats(true);
}

async function setup(t: Test, opts: { maxTransfers?: number; maxTransfersPerClient?: number } = {}) {
  const root = tempDir(t);
  const loader = randomBytes(1024 * 1024);
  writeFileSync(join(root, 'loader.bin'), loader);
  // larger than the file cache's per-file bound: streamed from disk, read ahead chunk by chunk
  writeFileSync(join(root, 'initrd.bin'), randomBytes(8 * 1024 * 1024));
  // generous retransmission (1 s × 3) so stalled transfers stay in flight long enough to be counted together
  const srv = await startTftpChild(t, root, { stallTimeoutMs: 10_000, timeoutMs: 1000, retries: 3, ...opts });
  const sockets: dgram.Socket[] = [];
  t.teardown(() => sockets.forEach((s) => s.close()));
  const realFetch = async (label: string): Promise<void> => {
    const local = join(tempDir(t), 'loader.bin');
    const code = await atftpGet(srv, 'loader.bin', local);
    t.equal(code, 0, `${label}: atftp exit 0`);
    t.equal(code === 0 ? sha(readFileSync(local)) : '', sha(loader), `${label}: a real client gets its file byte-exact`);
  };
  return { srv, sockets, realFetch, baseline: await srv.stats(true) };
}

t.test('a client that stops ACKing mid-transfer is timed out and freed', async (t) => {
  if (!requireTool(t, 'atftp')) return;
  const { srv, sockets, baseline } = await setup(t);
  const c = await stallingClient('127.0.0.1', srv.port, 'loader.bin', 40);
  sockets.push(c.socket);
  await c.reached;
  const during = await srv.stats();
  t.equal(during.counters.active, 1, 'the stalled transfer is in flight');
  const end = await waitIdle(srv);
  t.equal(end.counters.active, 0, 'then freed');
  t.equal(end.counters.failed, 1, 'and counted as failed (timed out)');
  t.ok(end.fds <= baseline.fds, `descriptors back to idle (${baseline.fds} → ${end.fds})`);
});

t.test('500 clients that stop ACKing at once: bounded, freed, a real client still served', async (t) => {
  if (!requireTool(t, 'atftp')) return;
  const { srv, sockets, realFetch, baseline } = await setup(t);
  // 500 machines: one loopback address each, so the per-client cap is not what bounds them; each reads a file
  // streamed from disk, so every stalled transfer holds a descriptor and its read-ahead
  const reached = await openStalling(srv, sockets, 500, (i) => `127.0.${1 + Math.floor(i / 250)}.${1 + (i % 250)}`, (i) => 1 + (i % 20), 'initrd.bin');
  let settled = 0;
  reached.forEach((r) => void r.then(() => settled++));
  await Promise.race([Promise.all(reached), sleep(20_000)]);
  t.equal(settled, 500, 'all 500 clients received their first blocks');
  const during = await srv.stats();
  t.equal(during.counters.active, 500, '500 stalled transfers in flight together');
  t.ok(during.fds <= baseline.fds + 2 * 500 + 16, `two descriptors per transfer, socket and file (${during.fds} with 500 in flight, ${baseline.fds} idle)`);
  await realFetch('with 500 stalled transfers');
  const end = await waitIdle(srv);
  t.equal(end.counters.active, 0, 'all 500 freed');
  t.equal(end.counters.failed, 500, '500 failed (timed out) transfers');
  t.equal(end.counters.complete, 1, 'the real transfer completed');
  t.ok(end.fds <= baseline.fds, `descriptors back to idle (${baseline.fds} → ${end.fds})`);
  t.ok(during.rss < baseline.rss + 64 * 1048576, `RSS with 500 stalled transfers: ${mb(baseline.rss)} → ${mb(during.rss)} MiB`);
  t.ok(end.rss < baseline.rss + 64 * 1048576, `RSS ${mb(baseline.rss)} → ${mb(during.rss)} (500 in flight) → ${mb(end.rss)} MiB`);
  t.comment(`500 stalled: fds ${baseline.fds} → ${during.fds} → ${end.fds}; RSS ${mb(baseline.rss)} → ${mb(during.rss)} → ${mb(end.rss)} MiB`);
});

t.test('one client opening 3000 transfers is held to the per-client cap', async (t) => {
  if (!requireTool(t, 'atftp')) return;
  const { srv, sockets, realFetch, baseline } = await setup(t, { maxTransfersPerClient: 64 });
  await openStalling(srv, sockets, 3000, () => '127.0.3.1', () => 0);
  const during = await srv.stats();
  t.equal(during.counters.datagrams, 3000, 'the listener saw all 3000 RRQs');
  t.equal(during.counters.active, 64, 'only 64 transfers run for that client');
  t.equal(during.counters.busy, 3000 - 64, 'the rest were dropped as busy (no socket, no reply)');
  t.ok(during.fds <= baseline.fds + 2 * 64 + 16, `descriptors bounded by the cap (${baseline.fds} → ${during.fds})`);
  await realFetch('while one client holds its 64 slots');
  const end = await waitIdle(srv);
  t.equal(end.counters.active, 0, 'the 64 are freed');
  t.ok(end.fds <= baseline.fds, `descriptors back to idle (${baseline.fds} → ${end.fds})`);
  t.comment(`3000 RRQs from one address: ${during.counters.busy} busy, ${during.counters.requests} started; fds ${baseline.fds} → ${during.fds} → ${end.fds}`);
});

t.test('the global cap bounds transfers from many clients; a refused client gets in when it retries', async (t) => {
  if (!requireTool(t, 'atftp')) return;
  const { srv, sockets, realFetch, baseline } = await setup(t, { maxTransfers: 50 });
  await openStalling(srv, sockets, 200, (i) => `127.0.4.${1 + (i % 20)}`, () => 0);
  const during = await srv.stats();
  t.equal(during.counters.active, 50, '50 transfers in flight (the global cap)');
  t.equal(during.counters.busy, 150, '150 RRQs dropped as busy');
  t.ok(during.fds <= baseline.fds + 2 * 50 + 16, `descriptors bounded (${baseline.fds} → ${during.fds})`);
  // atftp's first RRQ is dropped while the slots are full; its retransmission gets in once they are freed
  await realFetch('while the server is full');
  const end = await waitIdle(srv);
  t.equal(end.counters.active, 0);
  t.ok(end.counters.busy >= 151, `the real client was turned away at least once first (busy ${end.counters.busy})`);
});
