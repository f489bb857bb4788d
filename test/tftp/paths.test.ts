/** Path handling: what a client may and may not fetch from a DirectoryTree root over TFTP. */
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { FarrierError } from '../../src/errors.js';
import { DirectoryTree } from '../../src/tftp/directoryTree.js';
import { normaliseTftpPath } from '../../src/tftp/paths.js';
import { startTftpServer, type TransferEvent } from '../../src/tftp/server.js';
import { tempDir } from '../helpers/env.js';
import { rawGet } from './helpers/rawClient.js';

t.test('normaliseTftpPath', async (t) => {
  t.equal(normaliseTftpPath('/pxelinux.cfg/01-aa-bb'), 'pxelinux.cfg/01-aa-bb', 'leading slash dropped');
  t.equal(normaliseTftpPath('pxelinux.cfg\\01-aa-bb'), 'pxelinux.cfg/01-aa-bb', 'backslashes become slashes');
  t.equal(normaliseTftpPath('//a/./b//c'), 'a/b/c', 'empty and . segments dropped');
  t.equal(normaliseTftpPath('%2e%2e/x'), '%2e%2e/x', 'percent signs are just characters');
  for (const bad of ['../x', 'a/../../x', 'a\\..\\..\\x', '..', 'a/..', 'a\0b', '', '/', '.']) {
    t.throws(() => normaliseTftpPath(bad), FarrierError, `rejects ${JSON.stringify(bad)}`);
  }
});

t.test('over the wire, a DirectoryTree serves its root and nothing else', async (t) => {
  const base = tempDir(t);
  const root = join(base, 'root');
  mkdirSync(join(root, 'sub'), { recursive: true });
  writeFileSync(join(root, 'hello.txt'), 'hello\n');
  writeFileSync(join(root, 'sub', 'small.txt'), 'small\n');
  writeFileSync(join(base, 'secret.txt'), 'secret\n');
  symlinkSync(join(base, 'secret.txt'), join(root, 'escape-link'));
  symlinkSync('../secret.txt', join(root, 'sub', 'relative-escape'));
  symlinkSync('sub/small.txt', join(root, 'inside-link'));
  const events: TransferEvent[] = [];
  const srv = await startTftpServer({ host: '127.0.0.1', port: 0, tree: new DirectoryTree(root), onTransfer: (e) => events.push(e) });
  t.teardown(() => srv.close());
  const get = (file: string) => rawGet({ host: '127.0.0.1', port: srv.port, file, idleMs: 2000 });

  for (const [file, body] of [
    ['hello.txt', 'hello\n'],
    ['/hello.txt', 'hello\n'],
    ['./hello.txt', 'hello\n'],
    ['sub\\small.txt', 'small\n'],
    ['/sub/small.txt', 'small\n'],
    ['inside-link', 'small\n'],
  ] as const) {
    const r = await get(file);
    t.equal(r.data.toString(), body, `${JSON.stringify(file)} is served`);
  }
  for (const file of [
    '../secret.txt',
    'sub/../../secret.txt',
    '..\\secret.txt',
    'sub\\..\\..\\secret.txt',
    '/../secret.txt',
    '%2e%2e/secret.txt',
    '%2e%2e%2fsecret.txt',
    '/etc/passwd',
    'escape-link',
    'sub/relative-escape',
    'sub',
    'missing.txt',
  ]) {
    const r = await get(file);
    t.ok(r.error, `${JSON.stringify(file)} is refused (${r.error?.message})`);
    t.equal(r.data.length, 0, `${JSON.stringify(file)} sent no data`);
  }
  await new Promise((r) => setTimeout(r, 50));
  const outcome = (file: string) => events.find((e) => e.file.endsWith(file) || e.file === file)?.outcome;
  t.equal(outcome('escape-link'), 'missing', 'symlink escape is reported as missing');
  t.equal(events.filter((e) => e.outcome === 'complete').length, 6);
});

t.test('path attacks over the wire: never a byte from outside the root, always a TFTP error', async (t) => {
  const base = tempDir(t);
  const root = join(base, 'root');
  mkdirSync(join(root, 'sub'), { recursive: true });
  writeFileSync(join(root, 'hello.txt'), 'hello\n');
  const secret = 'TOP-SECRET-OUTSIDE-THE-ROOT\n';
  writeFileSync(join(base, 'secret.txt'), secret);
  symlinkSync(base, join(root, 'outdir')); // a directory link pointing above the root
  symlinkSync('/etc', join(root, 'etc-link'));
  symlinkSync('loop-a', join(root, 'loop-b'));
  symlinkSync('loop-b', join(root, 'loop-a'));
  const srv = await startTftpServer({ host: '127.0.0.1', port: 0, tree: new DirectoryTree(root) });
  t.teardown(() => srv.close());
  const get = (file: string) => rawGet({ host: '127.0.0.1', port: srv.port, file, idleMs: 2000 });

  const attacks: [string, RegExp][] = [
    // dot-dot in every spelling the parser or the normaliser must catch
    ['..', /Access violation/],
    ['../../../../etc/passwd', /Access violation/],
    ['sub/../../secret.txt', /Access violation/],
    ['\\..\\secret.txt', /Access violation/],
    ['sub\\..\\..\\..\\secret.txt', /Access violation/],
    ['/./../secret.txt', /File not found/], // `..` at the top of an absolute name stays at the root
    ['..\\/secret.txt', /Access violation/],
    ['../'.repeat(150) + 'etc/passwd', /Access violation/],
    // absolute paths are relative to the root, so they name files that are not there
    [join(base, 'secret.txt'), /File not found/],
    ['/etc/passwd', /File not found/],
    ['C:\\secret.txt', /File not found/],
    ['\\\\server\\share\\secret.txt', /File not found/],
    // percent signs are literal characters, never decoded
    ['%2e%2e/secret.txt', /File not found/],
    ['%2e%2e%5csecret.txt', /File not found/],
    ['..%2fsecret.txt', /Access violation/], // the parser refuses any name that starts with `..`
    ['%252e%252e/secret.txt', /File not found/],
    // a NUL ends the name; what follows is the mode, which is not a mode
    ['hello.txt\0../secret.txt', /Unknown transfer mode/],
    ['../secret.txt\0octet', /Access violation/],
    // symlinks that leave the root, or never end
    ['outdir/secret.txt', /File not found/],
    ['etc-link/passwd', /File not found/],
    ['loop-a', /File not found/],
    // bytes outside ASCII
    ['h\u00e9llo.txt', /Access violation/],
    // very long names: under the 512-byte request limit they are simply not found; over it, refused
    ['a'.repeat(490), /File not found/],
    ['a/'.repeat(240), /File not found/],
    ['x'.repeat(600), /Request longer than 512 bytes/],
  ];
  for (const [file, why] of attacks) {
    const r = await get(file);
    const label = JSON.stringify(file.length > 60 ? `${file.slice(0, 40)}…(${file.length})` : file);
    t.match(r.error?.message, why, `${label}: ${why.source}`);
    t.equal(r.data.length, 0, `${label}: no data`);
  }
  const ok = await get('hello.txt');
  t.equal(ok.data.toString(), 'hello\n', 'the root is still served afterwards');
});
