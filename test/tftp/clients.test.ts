/** Real TFTP clients (atftp, tftp-hpa) against Farrier's TFTP server on loopback, every file sha256-checked. */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { DirectoryTree } from '../../src/tftp/directoryTree.js';
import { startTftpServer, type TftpServer, type TransferEvent } from '../../src/tftp/server.js';
import { findTool, requireTool, tempDir } from '../helpers/env.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

const run = (cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
  new Promise((resolve) => {
    execFile(findTool(cmd) ?? cmd, args, { maxBuffer: 64 * 1024 * 1024, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });

const atftpGet = (srv: TftpServer, remote: string, local: string, options: string[]) =>
  run('atftp', ['--trace', ...options.flatMap((o) => ['--option', o]), '-g', '-r', remote, '-l', local, '127.0.0.1', String(srv.port)]);

const hpaGet = (srv: TftpServer, remote: string, local: string) => run('tftp', ['127.0.0.1', String(srv.port), '-m', 'binary', '-c', 'get', remote, local]);

t.test('atftp negotiates blksize/windowsize/tsize and receives identical files', async (t) => {
  if (!requireTool(t, 'atftp')) return;
  const dir = tempDir(t);
  const out = tempDir(t);
  const data = randomBytes(3 * 1024 * 1024 + 333);
  writeFileSync(join(dir, 'initrd.img'), data);
  const srv = await startTftpServer({ host: '127.0.0.1', port: 0, tree: new DirectoryTree(dir), blockSizeMax: 1468, windowSizeMax: 16 });
  t.teardown(() => srv.close());
  for (const blksize of [512, 1468]) {
    for (const windowsize of [8, 16]) {
      const local = join(out, `initrd-${blksize}-${windowsize}`);
      const r = await atftpGet(srv, 'initrd.img', local, [`blksize ${blksize}`, `windowsize ${windowsize}`, 'tsize 0']);
      t.equal(r.code, 0, `atftp ${blksize}/${windowsize} exit 0`);
      const oack = /received OACK <([^>]*)>/.exec(r.stderr + r.stdout)?.[1] ?? '';
      t.match(oack, `blksize: ${blksize}`, `OACK blksize ${blksize}`);
      t.match(oack, `windowsize: ${windowsize}`, `OACK windowsize ${windowsize}`);
      t.match(oack, `tsize: ${data.length}`, 'OACK tsize = file size');
      t.equal(sha(readFileSync(local)), sha(data), `sha256 matches at ${blksize}/${windowsize}`);
    }
  }
  const capped = await atftpGet(srv, 'initrd.img', join(out, 'capped'), ['blksize 8192', 'windowsize 64']);
  const oack = /received OACK <([^>]*)>/.exec(capped.stderr + capped.stdout)?.[1] ?? '';
  t.match(oack, 'blksize: 1468', 'blksize is capped at blockSizeMax');
  t.match(oack, 'windowsize: 16', 'windowsize is capped at windowSizeMax');
  t.equal(sha(readFileSync(join(out, 'capped'))), sha(data));
});

t.test('tftp-hpa (no options, 512-byte lockstep) receives identical files', async (t) => {
  if (!requireTool(t, 'tftp')) return;
  const dir = tempDir(t);
  const data = randomBytes(1024 * 1024 + 7);
  writeFileSync(join(dir, 'pxelinux.0'), data);
  const srv = await startTftpServer({ host: '127.0.0.1', port: 0, tree: new DirectoryTree(dir) });
  t.teardown(() => srv.close());
  const local = join(tempDir(t), 'pxelinux.0');
  const r = await hpaGet(srv, '/pxelinux.0', local);
  t.equal(r.code, 0);
  t.equal(sha(readFileSync(local)), sha(data));
  const missing = await hpaGet(srv, 'nope', join(tempDir(t), 'nope'));
  t.match(missing.stderr + missing.stdout, /File not found/, 'tftp-hpa reports a missing file');
});

t.test('concurrent transfers from several clients all arrive intact', async (t) => {
  if (!requireTool(t, 'atftp') || !requireTool(t, 'tftp')) return;
  const dir = tempDir(t);
  const out = tempDir(t);
  const files = [randomBytes(2 * 1024 * 1024), randomBytes(777_777)];
  files.forEach((d, i) => writeFileSync(join(dir, `f${i}`), d));
  const events: TransferEvent[] = [];
  const srv = await startTftpServer({ host: '127.0.0.1', port: 0, tree: new DirectoryTree(dir), onTransfer: (e) => events.push(e) });
  t.teardown(() => srv.close());
  const jobs: Promise<{ code: number }>[] = [];
  const expect: [string, Buffer][] = [];
  for (let i = 0; i < 12; i++) {
    const src = i % 2;
    const local = join(out, `c${i}`);
    expect.push([local, files[src] as Buffer]);
    jobs.push(i % 3 === 0 ? hpaGet(srv, `f${src}`, local) : atftpGet(srv, `f${src}`, local, ['blksize 1468', `windowsize ${i % 2 ? 16 : 8}`]));
  }
  const results = await Promise.all(jobs);
  t.same(results.map((r) => r.code), new Array(12).fill(0), 'every client exited 0');
  for (const [local, data] of expect) t.equal(sha(readFileSync(local)), sha(data), `${local} intact`);
  await new Promise((r) => setTimeout(r, 100));
  t.equal(events.filter((e) => e.outcome === 'complete').length, 12, '12 complete transfer events');
  t.match(srv.counters(), { complete: 12, active: 0 });
});

t.test('T7: a server bound to one of several addresses answers from that address (tftp-hpa checks it)', async (t) => {
  if (!requireTool(t, 'tftp')) return;
  const dir = tempDir(t);
  const data = randomBytes(200_000);
  writeFileSync(join(dir, 'loader.0'), data);
  // the client sends from 127.0.0.1: a reply socket on the wildcard address would answer from 127.0.0.1 too
  const srv = await startTftpServer({ host: '127.0.0.2', port: 0, tree: new DirectoryTree(dir) });
  t.teardown(() => srv.close());
  const local = join(tempDir(t), 'loader.0');
  const r = await run('tftp', ['127.0.0.2', String(srv.port), '-m', 'binary', '-c', 'get', 'loader.0', local]);
  t.equal(r.code, 0, `tftp-hpa exit 0 ${r.stderr}`);
  t.equal(sha(readFileSync(local)), sha(data), 'file intact');
});
