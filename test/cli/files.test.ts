import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import t from 'tap';
import { startProgress } from '../../src/cli/transfer.js';
import { PASSWORDS } from '../api/harness.js';
import { buildIso, makeUploadHarness, sha256 } from '../api/uploads.js';
import { requireTool, tempDir } from '../helpers/env.js';
import { cli } from './helpers/live.js';

/** The API app with a boot root, listening on a loopback ephemeral port, and CLI env for its admin. */
async function startServer(t: Parameters<typeof makeUploadHarness>[0]) {
  const h = await makeUploadHarness(t);
  await h.app.listen({ port: 0, host: '127.0.0.1' });
  const live = { endpoint: `http://127.0.0.1:${(h.app.server.address() as { port: number }).port}` };
  const env = { FARRIER_USER: 'admin', FARRIER_PASSWORD: PASSWORDS.admin };
  return { h, live, env };
}

t.test('files upload, list, download and delete', async (t) => {
  const { h, live, env } = await startServer(t);
  const dir = tempDir(t, 'fcli-files-');
  const data = randomBytes(3 * 1024 * 1024 + 5);
  writeFileSync(join(dir, 'kernel'), data);

  const up = await cli(live, ['files', 'upload', join(dir, 'kernel'), 'flatcar/vmlinuz', '-o', 'json'], { env });
  t.equal(up.code, 0, up.stderr);
  t.same(JSON.parse(up.stdout), { path: 'flatcar/vmlinuz', size: data.length, sha256: sha256(data), treePath: 'files/flatcar/vmlinuz' });
  t.match(up.stderr, /upload flatcar\/vmlinuz: \d+% \(/, 'plain progress lines when stderr is not a terminal');
  t.match(up.stderr, /upload flatcar\/vmlinuz: done, 3\.0 MiB/);
  t.ok(readFileSync(join(h.root, 'files/flatcar/vmlinuz')).equals(data));

  const list = await cli(live, ['files', 'list', 'flatcar', '-o', 'json'], { env });
  t.match(JSON.parse(list.stdout), [{ name: 'vmlinuz', type: 'file', size: data.length }]);
  const table = await cli(live, ['files', 'list', '-o', 'table'], { env });
  t.match(table.stdout, /^NAME\s+TYPE\s+SIZE\s+MTIME\nflatcar\s+directory/);

  const down = await cli(live, ['files', 'download', 'flatcar/vmlinuz', join(dir, 'copy'), '-o', 'json'], { env });
  t.equal(down.code, 0, down.stderr);
  t.ok(readFileSync(join(dir, 'copy')).equals(data), 'downloaded bytes equal the upload');
  t.match(down.stderr, /download flatcar\/vmlinuz: done/);

  writeFileSync(join(dir, 'note.txt'), 'hello boot tree\n');
  await cli(live, ['files', 'upload', join(dir, 'note.txt'), 'notes/a b.txt'], { env });
  const cat = await cli(live, ['files', 'download', 'notes/a b.txt', '-'], { env });
  t.equal(cat.stdout, 'hello boot tree\n', 'download to stdout; spaces in paths are encoded');

  const del = await cli(live, ['files', 'delete', 'flatcar/vmlinuz', '-o', 'json'], { env });
  t.same(JSON.parse(del.stdout), { path: 'flatcar/vmlinuz', size: data.length });
  const gone = await cli(live, ['files', 'download', 'flatcar/vmlinuz', join(dir, 'none')], { env });
  t.equal(gone.code, 1);
  t.match(gone.stderr, /file "flatcar\/vmlinuz" not found/);

  const attack = await cli(live, ['files', 'upload', join(dir, 'note.txt'), 'a\\..\\..\\x'], { env });
  t.equal(attack.code, 1);
  t.match(attack.stderr, /contains a backslash/);
  const reader = await cli(live, ['files', 'upload', join(dir, 'note.txt'), 'r.txt'], { env: { FARRIER_USER: 'reader', FARRIER_PASSWORD: PASSWORDS.reader } });
  t.equal(reader.code, 1);
  t.match(reader.stderr, /may only read/);
  const missing = await cli(live, ['files', 'upload', join(dir, 'nope'), 'x'], { env });
  t.equal(missing.code, 2);
  t.match(missing.stderr, /nope: no such file/);
});

t.test('isos upload/list/delete and bootenvs fetch-iso from a local HTTP server', async (t) => {
  if (!requireTool(t, 'xorriso') || !requireTool(t, 'bsdtar')) return;
  const { h, live, env } = await startServer(t);
  const kernel = randomBytes(100_000);
  const iso = buildIso(t, { 'casper/vmlinuz': kernel, 'casper/initrd': randomBytes(50_000) });

  let served = 0;
  const mirror = createServer((req, res) => {
    if (req.url !== '/releases/noble.iso') return void res.writeHead(404).end('not here');
    served++;
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': iso.length }).end(iso);
  });
  await new Promise<void>((r) => mirror.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => mirror.close(() => r())));
  const mirrorUrl = `http://127.0.0.1:${(mirror.address() as { port: number }).port}`;

  const env1 = { name: 'noble', os: { name: 'noble', isoFile: 'noble.iso', isoSha256: sha256(iso), isoUrl: `${mirrorUrl}/releases/noble.iso` }, kernel: 'casper/vmlinuz', initrds: ['casper/initrd'], bootParams: '' };
  t.equal((await cli(live, ['bootenvs', 'create', JSON.stringify(env1)], { env })).code, 0);
  t.equal(JSON.parse((await cli(live, ['bootenvs', 'show', 'noble', '-o', 'json'], { env })).stdout).available, false);

  const fetched = await cli(live, ['bootenvs', 'fetch-iso', 'noble', '-o', 'json'], { env });
  t.equal(fetched.code, 0, fetched.stderr);
  t.same(JSON.parse(fetched.stdout), { name: 'noble.iso', size: iso.length, sha256: sha256(iso), exploded: [{ directory: 'noble', bootenvs: ['noble'] }] });
  t.match(fetched.stderr, /fetch noble\.iso: done/);
  t.equal(served, 1, 'downloaded once from isoUrl');
  t.equal(JSON.parse((await cli(live, ['bootenvs', 'show', 'noble', '-o', 'json'], { env })).stdout).available, true, 'bootenv available after fetch-iso');
  t.ok(readFileSync(join(h.root, 'noble/casper/vmlinuz')).equals(kernel));

  const dir = tempDir(t, 'fcli-iso-');
  writeFileSync(join(dir, 'download.iso'), iso);
  const up = await cli(live, ['isos', 'upload', join(dir, 'download.iso'), '--name', 'spare.iso', '-o', 'json'], { env });
  t.equal(up.code, 0, up.stderr);
  t.match(JSON.parse(up.stdout), { name: 'spare.iso', sha256: sha256(iso), exploded: [] });
  const list = JSON.parse((await cli(live, ['isos', 'list', '-o', 'json'], { env })).stdout) as { name: string; bootenvs: string[] }[];
  t.same(
    list.map((i) => [i.name, i.bootenvs]),
    [
      ['noble.iso', ['noble']],
      ['spare.iso', []],
    ],
  );
  t.equal((await cli(live, ['isos', 'delete', 'spare.iso'], { env })).code, 0);
  t.same(
    (JSON.parse((await cli(live, ['isos', 'list', '-o', 'json'], { env })).stdout) as { name: string }[]).map((i) => i.name),
    ['noble.iso'],
  );

  await cli(live, ['bootenvs', 'patch', 'noble', JSON.stringify({ os: { isoUrl: `${mirrorUrl}/releases/missing.iso` } })], { env });
  const bad = await cli(live, ['bootenvs', 'fetch-iso', 'noble'], { env });
  t.equal(bad.code, 1);
  t.match(bad.stderr, /cannot download http:\/\/127\.0\.0\.1:\d+\/releases\/missing\.iso: HTTP 404/);
  const none = await cli(live, ['bootenvs', 'fetch-iso', 'local'], { env });
  t.equal(none.code, 2);
  t.match(none.stderr, /bootenv local has no os\.isoUrl/);
});

t.test('on a terminal, progress is a cli-progress bar; otherwise plain lines', async (t) => {
  const capture = (tty: boolean) => {
    const stderr = Object.assign(new PassThrough(), { isTTY: tty, columns: 120 });
    let text = '';
    stderr.on('data', (c: Buffer) => (text += c.toString()));
    const io = { stdout: new PassThrough(), stderr, stdin: Readable.from([]), isTTY: false };
    return { io, text: () => text };
  };
  const tty = capture(true);
  const bar = startProgress(tty.io, 'upload x.iso', 1000);
  bar.add(400);
  bar.add(600);
  bar.finish();
  t.match(tty.text(), /upload x\.iso \[[█░]+\] 100% \| 1000\/1000 bytes/, 'a bar with percentage and bytes');

  const plain = capture(false);
  const lines = startProgress(plain.io, 'upload x.iso', 1000);
  for (let i = 0; i < 10; i++) lines.add(100);
  lines.finish();
  t.same(plain.text().trim().split('\n'), [...Array.from({ length: 9 }, (_, i) => `upload x.iso: ${(i + 1) * 10}% (${(i + 1) * 100} bytes of 1000 bytes)`), 'upload x.iso: done, 1000 bytes']);
});
