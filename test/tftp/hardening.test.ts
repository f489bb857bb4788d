/**
 * One test per robustness bug the `tftp` package had (T1–T7, see src/tftp/transfer.ts), against Farrier's own
 * transfer loop over real sockets, and the T5 watchdog.
 */
import { createHash, randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { DirectoryTree } from '../../src/tftp/directoryTree.js';
import type { BootTree, BootTreeEntry } from '../../src/tftp/ports.js';
import { startTftpServer, type TftpServer, type TransferEvent } from '../../src/tftp/server.js';
import { tempDir } from '../helpers/env.js';
import { ack, buildRrq, errorPacket, parseError, rawGet, sendFromStranger } from './helpers/rawClient.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

async function serveDir(tt: Test, files: Record<string, Buffer>, events?: TransferEvent[]): Promise<TftpServer> {
  const dir = tempDir(tt);
  for (const [name, data] of Object.entries(files)) writeFileSync(join(dir, name), data);
  const srv = await startTftpServer({ host: '127.0.0.1', port: 0, tree: new DirectoryTree(dir), timeoutMs: 500, retries: 3, onTransfer: (e) => events?.push(e) });
  tt.teardown(() => srv.close());
  return srv;
}

t.test('T1: a 1-byte datagram to a transfer port neither crashes the server nor breaks the transfer', async (t) => {
  const big = randomBytes(2 * 1024 * 1024);
  const srv = await serveDir(t, { 'big.bin': big, 'small.txt': Buffer.from('still here\n') });
  let poked = false;
  const r = await rawGet({
    host: '127.0.0.1', port: srv.port, file: 'big.bin', blksize: 1468, windowsize: 4,
    onBlock: async (block, serverPort) => {
      if (block === 100 && !poked) {
        poked = true;
        await sendFromStranger('127.0.0.1', serverPort, Buffer.from([4]));
      }
    },
  });
  t.ok(poked, 'the short datagram was sent mid-transfer');
  t.notOk(r.error, 'no TFTP error');
  t.equal(sha(r.data), sha(big), 'file arrived intact');
  const again = await rawGet({ host: '127.0.0.1', port: srv.port, file: 'small.txt' });
  t.equal(again.data.toString(), 'still here\n', 'the server still answers afterwards');
});

t.test('T2: an ERROR from a foreign port does not abort a running transfer', async (t) => {
  const big = randomBytes(1024 * 1024);
  const srv = await serveDir(t, { 'big.bin': big });
  let spoofed = false;
  const r = await rawGet({
    host: '127.0.0.1', port: srv.port, file: 'big.bin', blksize: 1468, windowsize: 4,
    onBlock: async (block, serverPort) => {
      if (block === 50 && !spoofed) {
        spoofed = true;
        await sendFromStranger('127.0.0.1', serverPort, errorPacket(0, 'spoofed abort'));
      }
    },
  });
  t.ok(spoofed);
  t.notOk(r.error, 'no TFTP error');
  t.equal(sha(r.data), sha(big), 'file arrived intact');
});

t.test('T3: a client that sends every ACK twice gets each block about once (no ACK storm)', async (t) => {
  const file = randomBytes(300 * 1024);
  const srv = await serveDir(t, { 'f.bin': file });
  for (const windowsize of [1, 4]) {
    const r = await rawGet({ host: '127.0.0.1', port: srv.port, file: 'f.bin', blksize: 512, windowsize, duplicateAcks: true });
    const blocks = Math.floor(file.length / 512) + 1;
    t.notOk(r.error, `w${windowsize}: no error`);
    t.equal(sha(r.data), sha(file), `w${windowsize}: file intact`);
    t.ok(r.dataPackets <= blocks + 2 * windowsize, `w${windowsize}: ${r.dataPackets} DATA packets for ${blocks} blocks`);
  }
});

t.test('T4: ACKs while no window is outstanding (before ACK 0 of the OACK) are ignored, not answered with an error', async (t) => {
  const file = randomBytes(5000);
  const srv = await serveDir(t, { 'x.bin': file });
  const sock = dgram.createSocket('udp4');
  t.teardown(() => sock.close());
  const received: Buffer[] = [];
  let transferPort = 0;
  sock.on('message', (m, rinfo) => {
    transferPort = rinfo.port;
    received.push(m);
  });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  sock.send(buildRrq('x.bin', { blksize: 512 }), srv.port, '127.0.0.1');
  const waitFor = async (n: number): Promise<void> => {
    for (let i = 0; i < 100 && received.length < n; i++) await new Promise((r) => setTimeout(r, 20));
  };
  await waitFor(1);
  t.equal(received[0]?.readUInt16BE(0), 6, 'OACK first');
  // ACKs of blocks never sent, while the server waits for ACK 0
  sock.send(ack(1), transferPort, '127.0.0.1');
  sock.send(ack(7), transferPort, '127.0.0.1');
  await new Promise((r) => setTimeout(r, 200));
  t.same(received.map((m) => m.readUInt16BE(0)), [6], 'nothing answered them (no DATA, no ERROR)');
  // then the transfer runs normally, block by block
  const data: Buffer[] = [];
  for (let block = 0; block <= 9; block++) {
    sock.send(ack(block), transferPort, '127.0.0.1');
    await waitFor(block + 2);
    const m = received[block + 1] as Buffer;
    if (m.readUInt16BE(0) !== 3) break;
    data.push(m.subarray(4));
    if (m.length - 4 < 512) {
      sock.send(ack(block + 1), transferPort, '127.0.0.1');
      break;
    }
  }
  t.equal(sha(Buffer.concat(data)), sha(file), 'file intact');
  // an ACK after the end reaches a closed port: nothing comes back
  const before = received.length;
  sock.send(ack(3), transferPort, '127.0.0.1');
  await new Promise((r) => setTimeout(r, 200));
  t.equal(received.length, before, 'no reply after the end');
  const errors = received.filter((m) => m.readUInt16BE(0) === 5).map((m) => parseError(m).message);
  t.same(errors, [], 'no error packet at all');
});

t.test('T4 through the server: a file that shrank after lookup ends with a clear error', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'shrunk.bin'), Buffer.alloc(10, 7));
  // the size reported at lookup time is stale: the file has 10 bytes, 1000 were announced
  const staleTree: BootTree = { lookup: async (p): Promise<BootTreeEntry> => ({ kind: 'file', path: join(dir, p), size: 1000, name: p }) };
  const events: TransferEvent[] = [];
  const srv = await startTftpServer({ host: '127.0.0.1', port: 0, tree: staleTree, timeoutMs: 500, retries: 2, onTransfer: (e) => events.push(e) });
  t.teardown(() => srv.close());
  const r = await rawGet({ host: '127.0.0.1', port: srv.port, file: 'shrunk.bin', blksize: 512 });
  t.equal(r.error?.message, 'I/O error');
  await new Promise((res) => setTimeout(res, 50));
  t.equal(events[0]?.outcome, 'failed');
  t.match(events[0]?.error, /got 10 of 1000 bytes/);
});

t.test('T5: a request the tree never answers is aborted by the watchdog and freed', async (t) => {
  let release: () => void = () => {};
  const hanging: BootTree = {
    lookup: () => new Promise<BootTreeEntry>((resolve) => (release = () => resolve({ kind: 'missing', reason: 'released' }))),
  };
  t.teardown(() => release());
  const events: TransferEvent[] = [];
  const srv = await startTftpServer({ host: '127.0.0.1', port: 0, tree: hanging, stallTimeoutMs: 800, onTransfer: (e) => events.push(e) });
  t.teardown(() => srv.close());
  const r = await rawGet({ host: '127.0.0.1', port: srv.port, file: 'pxelinux.0', idleMs: 5000, rrqRepeats: 3 });
  t.equal(r.error?.message, 'Transfer timed out', 'the client is told');
  await new Promise((res) => setTimeout(res, 100));
  t.equal(srv.counters().requests, 1, 'repeated RRQs from the same client port started one transfer');
  t.equal(srv.counters().active, 0, 'nothing is left in flight');
  t.equal(events.length, 1);
  t.equal(events[0]?.outcome, 'stalled');
});

t.test('T6: an ACK for a block outside a window that wraps past 65535 is ignored, not a crash', async (t) => {
  // 512-byte blocks: block numbers wrap after 32 MiB; windowsize 4 makes a window span 65533..0
  const file = randomBytes(65536 * 512 + 1000);
  const srv = await serveDir(t, { 'wrap.bin': file });
  let injected = 0;
  const r = await rawGet({
    host: '127.0.0.1', port: srv.port, file: 'wrap.bin', blksize: 512, windowsize: 4,
    onBlock: (block, _serverPort, sendFromClient) => {
      if (block === 65534 || block === 0) {
        injected++;
        sendFromClient(ack(12345));
      }
    },
  });
  t.equal(injected, 2, 'bogus ACKs sent from the client port while the window wrapped');
  t.notOk(r.error, 'no TFTP error');
  t.equal(sha(r.data), sha(file), 'file arrived intact across the wrap');
});

t.test('T5 watchdog: a slow but steady client (one block per 100 ms) is not taken for stalled', async (t) => {
  const file = randomBytes(40 * 512 + 100);
  const dir = tempDir(t);
  writeFileSync(join(dir, 'slow.bin'), file);
  // 800 ms without progress is a stall; one 16 KiB read chunk takes this client 3.2 s to drain
  const srv = await startTftpServer({ host: '127.0.0.1', port: 0, tree: new DirectoryTree(dir), stallTimeoutMs: 800 });
  t.teardown(() => srv.close());
  const r = await rawGet({ host: '127.0.0.1', port: srv.port, file: 'slow.bin', blksize: 512, onBlock: () => new Promise((res) => setTimeout(res, 100)) });
  t.notOk(r.error, `no error (${r.error?.message})`);
  t.equal(sha(r.data), sha(file), 'file intact');
});

t.test('T7: a server bound to one of several addresses sends every transfer packet from that address', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'f.bin'), randomBytes(3000));
  const srv = await startTftpServer({ host: '127.0.0.2', port: 0, tree: new DirectoryTree(dir) });
  t.teardown(() => srv.close());
  const sock = dgram.createSocket('udp4');
  t.teardown(() => sock.close());
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  const sources = new Set<string>();
  const done = new Promise<void>((resolve) => {
    sock.on('message', (m, rinfo) => {
      sources.add(rinfo.address);
      if (m.readUInt16BE(0) !== 3) return;
      sock.send(ack(m.readUInt16BE(2)), rinfo.port, rinfo.address);
      if (m.length - 4 < 512) resolve();
    });
  });
  sock.send(buildRrq('f.bin'), srv.port, '127.0.0.2');
  await done;
  t.same([...sources], ['127.0.0.2'], 'DATA came from the address the RRQ was sent to, not the client-facing 127.0.0.1');
});
