/** TFTP server behaviour: rendered Buffers, option negotiation, events, counters and bind errors. */
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { FarrierError } from '../../src/errors.js';
import { DirectoryTree } from '../../src/tftp/directoryTree.js';
import { startTftpServer as startInProcess, type TransferEvent } from '../../src/tftp/server.js';
import { startTftpThread } from '../../src/tftp/threaded.js';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { findTool, requireRoot, requireTool, tempDir } from '../helpers/env.js';
import { rawGet } from './helpers/rawClient.js';
import { BufferTree } from './helpers/trees.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Every behaviour holds for the server in this thread and for the daemon's, on a worker thread of its own. */
function both(name: string, fn: (t: Test, startTftpServer: typeof startInProcess) => Promise<void>): void {
  for (const [how, start] of [['in-process', startInProcess], ['worker thread', startTftpThread]] as const) t.test(`${name} (${how})`, (t) => fn(t, start));
}

both('rendered Buffers are served with tsize, capped blksize/windowsize, and reported', async (t, startTftpServer) => {
  const script = Buffer.from('#!ipxe\nchain http://10.0.0.1/machines/x/boot.ipxe\n');
  const big = randomBytes(200_000);
  const exact = randomBytes(1468 * 3);
  const tree = new BufferTree({ 'boot.ipxe': script, 'big.bin': big, 'exact.bin': exact, 'empty': Buffer.alloc(0) });
  const events: TransferEvent[] = [];
  const srv = await startTftpServer({ host: '127.0.0.1', port: 0, tree, blockSizeMax: 1024, windowSizeMax: 8, onTransfer: (e) => events.push(e) });
  t.teardown(() => srv.close());

  const a = await rawGet({ host: '127.0.0.1', port: srv.port, file: '/boot.ipxe', tsize: true, blksize: 1468, windowsize: 64 });
  t.equal(a.data.toString(), script.toString());
  t.same(a.oack, { blksize: '1024', windowsize: '8', tsize: String(script.length) }, 'OACK: tsize is the real size, options capped');
  t.equal(tree.lookups[0], 'boot.ipxe', 'the tree sees the normalised path');

  const b = await rawGet({ host: '127.0.0.1', port: srv.port, file: 'big.bin', blksize: 1024, windowsize: 8 });
  t.equal(sha(b.data), sha(big), 'multi-window transfer intact');
  const c = await rawGet({ host: '127.0.0.1', port: srv.port, file: 'exact.bin', blksize: 1468 });
  t.equal(sha(c.data), sha(exact), 'exact multiple of the block size (trailing empty block)');
  const d = await rawGet({ host: '127.0.0.1', port: srv.port, file: 'empty' });
  t.equal(d.data.length, 0);
  t.notOk(d.error, 'an empty file is a successful transfer');
  const e = await rawGet({ host: '127.0.0.1', port: srv.port, file: 'nope' });
  t.same(e.error, { code: 1, message: 'File not found' });

  await new Promise((r) => setTimeout(r, 50));
  const first = events.find((x) => x.path === 'boot.ipxe');
  t.match(first, { file: '/boot.ipxe', outcome: 'complete', bytes: script.length, size: script.length, blockSize: 1024, windowSize: 8, client: { address: '127.0.0.1' } });
  t.equal(events.find((x) => x.path === 'nope')?.outcome, 'missing');
  t.match(srv.counters(), { requests: 5, complete: 4, missing: 1, failed: 0, active: 0, bytesSent: script.length + big.length + exact.length });
});

both('a tree that fails (render error, or a synchronous throw) gives the client an error and is reported', async (t, startTftpServer) => {
  const events: TransferEvent[] = [];
  const tree = {
    lookup(path: string): Promise<never> {
      if (path === 'sync') throw new Error('broken tree');
      return Promise.reject(new FarrierError('RENDER', 'machine aa-bb: template ks line 3: param "rootpw" is not set'));
    },
  };
  const srv = await startTftpServer({ host: '127.0.0.1', port: 0, tree, onTransfer: (e) => events.push(e) });
  t.teardown(() => srv.close());
  for (const file of ['machines/x/ks.cfg', 'sync']) {
    const r = await rawGet({ host: '127.0.0.1', port: srv.port, file });
    t.equal(r.error?.message, 'Error preparing file', `${file}: the client gets a TFTP error`);
  }
  await new Promise((r) => setTimeout(r, 50));
  t.match(events, [
    { path: 'machines/x/ks.cfg', outcome: 'failed', error: /param "rootpw" is not set/ },
    { path: 'sync', outcome: 'failed', error: /broken tree/ },
  ]);
  t.match(srv.counters(), { failed: 2, active: 0 });
});

both('write requests are refused (read-only server)', async (t, startTftpServer) => {
  const srv = await startTftpServer({ host: '127.0.0.1', port: 0, tree: new DirectoryTree(tempDir(t)) });
  t.teardown(() => srv.close());
  const dgram = await import('node:dgram');
  const s = dgram.createSocket('udp4');
  t.teardown(() => s.close());
  const reply = new Promise<Buffer>((r) => s.once('message', (m) => r(m)));
  s.send(Buffer.from('\0\x02evil.bin\0octet\0', 'latin1'), srv.port, '127.0.0.1');
  const m = await reply;
  t.equal(m.readUInt16BE(0), 5, 'ERROR');
  t.match(m.subarray(4).toString(), /Cannot PUT files/);
});

both('bind failures are reported clearly', async (t, startTftpServer) => {
  const srv = await startTftpServer({ host: '127.0.0.1', port: 0, tree: new DirectoryTree(tempDir(t)) });
  t.teardown(() => srv.close());
  await t.rejects(startTftpServer({ host: '127.0.0.1', port: srv.port, tree: new DirectoryTree(tempDir(t)) }), {
    constructor: FarrierError,
    message: new RegExp(`TFTP cannot bind udp 127.0.0.1:${srv.port}: address already in use`),
    detail: { errno: 'EADDRINUSE', port: srv.port },
  });
  await t.rejects(startTftpServer({ host: '192.0.2.77', port: 0, tree: new DirectoryTree(tempDir(t)) }), {
    message: /TFTP cannot bind udp 192.0.2.77:0: no local interface has that address/,
  });
});

t.test('binding a port below 1024 without root says why', async (t) => {
  if (!requireRoot(t) || !requireTool(t, 'setpriv')) return;
  const probe = fileURLToPath(new URL('./helpers/bindProbe.ts', import.meta.url));
  const loader = process.execArgv.filter((a) => a.includes('@tapjs/typescript'));
  // as "nobody": the privileged-port rule applies to it (net.ipv4.ip_unprivileged_port_start)
  const r = spawnSync(findTool('setpriv') as string, ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, ...loader, probe, '69'], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  const out = JSON.parse(r.stdout) as { ok: boolean; code?: string; message?: string };
  t.equal(out.ok, false);
  t.equal(out.code, 'UNAVAILABLE');
  t.match(out.message, 'TFTP cannot bind udp 127.0.0.1:69: permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)');
});

both('files from a DirectoryTree are streamed with their exact size', async (t, startTftpServer) => {
  const dir = tempDir(t);
  const data = randomBytes(3 * 1024 * 1024 + 17);
  writeFileSync(join(dir, 'initrd.img'), data);
  const srv = await startTftpServer({ host: '127.0.0.1', port: 0, tree: new DirectoryTree(dir) });
  t.teardown(() => srv.close());
  const r = await rawGet({ host: '127.0.0.1', port: srv.port, file: 'initrd.img', tsize: true, blksize: 1468, windowsize: 16 });
  t.equal(r.oack?.tsize, String(data.length));
  t.equal(sha(r.data), sha(data));
});
