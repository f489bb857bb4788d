/**
 * Farrier's transfer loop over real sockets: block numbers rolling over past 65535, windowed and lockstep
 * retransmission after lost blocks, files streamed from disk in chunks, and the RFC 2349 timeout option.
 */
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { DirectoryTree } from '../../src/tftp/directoryTree.js';
import type { BootTree, BootTreeEntry } from '../../src/tftp/ports.js';
import { startTftpServer, type TftpServerConfig, type TransferEvent } from '../../src/tftp/server.js';
import { tempDir } from '../helpers/env.js';
import { rawGet } from './helpers/rawClient.js';
import { BufferTree } from './helpers/trees.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 50));
/** No file is small enough for the cache: every file is streamed from disk. */
const NO_CACHE = { maxFileBytes: 0, maxTotalBytes: 0 };

/** The same bytes served two ways: as a rendered Buffer, and as a file streamed from disk (no cache). */
function bothSources(t: Test, name: string, data: Buffer): Array<[string, BootTree, Partial<TftpServerConfig>]> {
  const dir = tempDir(t);
  writeFileSync(join(dir, name), data);
  return [
    ['rendered Buffer', new BufferTree({ [name]: data }), {}],
    ['file streamed from disk', new DirectoryTree(dir), { fileCache: NO_CACHE }],
  ];
}

async function serve(t: Test, tree: BootTree, extra: Partial<TftpServerConfig> = {}) {
  const events: TransferEvent[] = [];
  const srv = await startTftpServer({ host: '127.0.0.1', port: 0, tree, timeoutMs: 300, retries: 3, onTransfer: (e) => events.push(e), ...extra });
  t.teardown(() => srv.close());
  return { srv, events };
}

t.test('block numbers roll over from 65535 to 0 (blksize 8: 65,549 blocks), from memory and from disk', async (t) => {
  const data = randomBytes(65536 * 8 + 100);
  for (const [label, tree, extra] of bothSources(t, 'wrap.bin', data)) {
    const { srv, events } = await serve(t, tree, extra);
    for (const windowsize of [1, 16]) {
      const around: number[] = [];
      let seen = 0;
      const r = await rawGet({
        host: '127.0.0.1', port: srv.port, file: 'wrap.bin', blksize: 8, windowsize,
        onBlock: (block) => {
          seen++;
          if (seen >= 65534 && seen <= 65538) around.push(block);
        },
      });
      t.notOk(r.error, `${label} w${windowsize}: no error`);
      t.equal(sha(r.data), sha(data), `${label} w${windowsize}: file intact`);
      t.same(around, [65534, 65535, 0, 1, 2], `${label} w${windowsize}: block 65535 is followed by block 0`);
    }
    await settle();
    t.match(events, [
      { outcome: 'complete', bytes: data.length, blockSize: 8, windowSize: 1 },
      { outcome: 'complete', bytes: data.length, blockSize: 8, windowSize: 16 },
    ]);
  }
});

t.test('lost blocks are sent again: in the middle of a window (the client ACKs the gap), at its start and at the end (the timer)', async (t) => {
  const data = randomBytes(100 * 512 + 77); // 101 blocks
  for (const [label, tree, extra] of bothSources(t, 'f.bin', data)) {
    const { srv, events } = await serve(t, tree, extra);
    for (const windowsize of [1, 8]) {
      // windows are 1–8, 9–16 …: 21 lies inside one, 33 starts one, 101 is the last block
      const lose = new Set(windowsize === 1 ? [5, 101] : [21, 33, 101]);
      const lost: number[] = [];
      const r = await rawGet({
        host: '127.0.0.1', port: srv.port, file: 'f.bin', blksize: 512, windowsize,
        drop: (block) => {
          if (!lose.delete(block)) return false;
          lost.push(block);
          return true;
        },
      });
      t.same(lost.sort((a, b) => a - b), windowsize === 1 ? [5, 101] : [21, 33, 101], `${label} w${windowsize}: the blocks were lost once`);
      t.notOk(r.error, `${label} w${windowsize}: no error`);
      t.equal(sha(r.data), sha(data), `${label} w${windowsize}: file intact`);
      t.ok(r.dataPackets > 101, `${label} w${windowsize}: lost blocks were sent again (${r.dataPackets} DATA packets for 101 blocks)`);
    }
    await settle();
    t.match(events, [
      { outcome: 'complete', bytes: data.length, size: data.length },
      { outcome: 'complete', bytes: data.length, size: data.length },
    ]);
  }
});

t.test('files streamed from disk arrive intact at every block and window size, across chunk boundaries', async (t) => {
  const dir = tempDir(t);
  const files: Record<string, Buffer> = {
    'odd.bin': randomBytes(777_777),
    // a whole number of 16 KiB chunks and of 512-byte blocks: ends with an empty block
    'chunks.bin': randomBytes(64 * 1024),
    'one.bin': Buffer.from('x'),
  };
  for (const [name, data] of Object.entries(files)) writeFileSync(join(dir, name), data);
  const { srv, events } = await serve(t, new DirectoryTree(dir), { fileCache: NO_CACHE, blockSizeMax: 65464, windowSizeMax: 64 });
  let n = 0;
  for (const [name, data] of Object.entries(files)) {
    for (const [blksize, windowsize] of [[512, 1], [1468, 16], [1000, 3], [8192, 64], [65464, 4]] as const) {
      const r = await rawGet({ host: '127.0.0.1', port: srv.port, file: name, blksize, windowsize, tsize: true });
      n++;
      t.equal(r.oack?.tsize, String(data.length), `${name} ${blksize}/${windowsize}: tsize`);
      t.equal(sha(r.data), sha(data), `${name} ${blksize}/${windowsize}: intact`);
    }
  }
  await settle();
  t.equal(events.filter((e) => e.outcome === 'complete').length, n, 'every transfer complete');
  t.match(srv.counters(), { active: 0, failed: 0 });
});

t.test('a file that grew after the lookup is sent at the size announced', async (t) => {
  const dir = tempDir(t);
  const data = randomBytes(50_000);
  writeFileSync(join(dir, 'grown.bin'), data);
  // the tree saw the file when it had 30,000 bytes
  const tree: BootTree = { lookup: async (p): Promise<BootTreeEntry> => ({ kind: 'file', path: join(dir, p), size: 30_000, name: p }) };
  const { srv, events } = await serve(t, tree);
  const r = await rawGet({ host: '127.0.0.1', port: srv.port, file: 'grown.bin', blksize: 1468, windowsize: 8, tsize: true });
  t.equal(r.oack?.tsize, '30000');
  t.equal(sha(r.data), sha(data.subarray(0, 30_000)), 'exactly the announced bytes');
  await settle();
  t.match(events, [{ outcome: 'complete', bytes: 30_000, size: 30_000 }]);
});

t.test('options: timeout (RFC 2349) is acknowledged when it fits the stall watchdog; no options, no OACK', async (t) => {
  const file = randomBytes(2000);
  const { srv } = await serve(t, new BufferTree({ 'f.bin': file }));
  const a = await rawGet({ host: '127.0.0.1', port: srv.port, file: 'f.bin', blksize: 1024, options: { timeout: 2 } });
  t.same(a.oack, { blksize: '1024', timeout: '2' }, 'timeout 2 s acknowledged');
  t.equal(sha(a.data), sha(file));
  const b = await rawGet({ host: '127.0.0.1', port: srv.port, file: 'f.bin', options: { timeout: 200 } });
  t.equal(b.oack, undefined, 'timeout 200 s (longer than the stall watchdog allows) is not acknowledged: no OACK at all');
  t.equal(sha(b.data), sha(file), 'the transfer runs in 512-byte lockstep');
  const c = await rawGet({ host: '127.0.0.1', port: srv.port, file: 'f.bin', options: { timeout: 1 } });
  t.same(c.oack, { timeout: '1' }, 'timeout alone gets an OACK');
  const d = await rawGet({ host: '127.0.0.1', port: srv.port, file: 'f.bin', options: { foo: 'bar' } });
  t.equal(d.oack, undefined, 'an unknown option alone: no OACK');
  t.equal(sha(d.data), sha(file));
});

t.test('a client ERROR ends the transfer as aborted by the client', async (t) => {
  const file = randomBytes(100_000);
  const { srv, events } = await serve(t, new BufferTree({ 'f.bin': file }));
  const r = await rawGet({
    host: '127.0.0.1', port: srv.port, file: 'f.bin', blksize: 512, idleMs: 500,
    onBlock: (block, _port, sendFromClient) => {
      if (block === 3) sendFromClient(Buffer.concat([Buffer.from([0, 5, 0, 0]), Buffer.from('changed my mind\0')]));
    },
  });
  t.ok(r.data.length < file.length, 'the client stopped early');
  await new Promise((res) => setTimeout(res, 200));
  t.match(events, [{ outcome: 'aborted-by-client', error: 'changed my mind' }]);
  t.match(srv.counters(), { active: 0, failed: 1 });
});

t.test('a client whose port closed mid-transfer (ICMP port unreachable) ends as aborted by the client', async (t) => {
  const { srv, events } = await serve(t, new BufferTree({ 'f.bin': randomBytes(100_000) }));
  const dgram = await import('node:dgram');
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  const first = new Promise<void>((resolve) =>
    sock.on('message', (m, rinfo) => {
      if (m.readUInt16BE(0) === 6) sock.send(Buffer.from([0, 4, 0, 0]), rinfo.port, rinfo.address);
      if (m.readUInt16BE(0) === 3) resolve();
    }),
  );
  sock.send(Buffer.from('\0\x01f.bin\0octet\0blksize\x00512\0', 'latin1'), srv.port, '127.0.0.1');
  await first;
  sock.close();
  for (let i = 0; i < 100 && events.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
  t.match(events, [{ outcome: 'aborted-by-client', error: /ECONNREFUSED/ }]);
  t.match(srv.counters(), { active: 0, failed: 1 });
});

t.test('a file entry the tree keeps in memory is sent from there (its path is never read)', async (t) => {
  const data = randomBytes(300_000);
  const tree: BootTree = { lookup: async (p): Promise<BootTreeEntry> => ({ kind: 'file', path: join(tempDir(t), 'not-on-disk'), size: data.length, name: p, data }) };
  const { srv, events } = await serve(t, tree);
  const r = await rawGet({ host: '127.0.0.1', port: srv.port, file: 'ipxe.efi', blksize: 1468, windowsize: 16, tsize: true });
  t.equal(r.oack?.tsize, String(data.length));
  t.equal(sha(r.data), sha(data), 'intact');
  await settle();
  t.match(events, [{ outcome: 'complete', bytes: data.length }]);
});

t.test('a file that vanished after the lookup ends with an I/O error, reported with the cause', async (t) => {
  const tree: BootTree = { lookup: async (p): Promise<BootTreeEntry> => ({ kind: 'file', path: join(tempDir(t), 'gone'), size: 100_000, name: p }) };
  const { srv, events } = await serve(t, tree);
  const r = await rawGet({ host: '127.0.0.1', port: srv.port, file: 'gone', blksize: 1468 });
  t.same(r.error, { code: 0, message: 'I/O error' }, 'the client is told');
  t.equal(r.data.length, 0, 'and got no data');
  await settle();
  t.match(events, [{ path: 'gone', outcome: 'failed', size: 100_000, bytes: 0, error: /^gone: .*ENOENT/ }]);
});
