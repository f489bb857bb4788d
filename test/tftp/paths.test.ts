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
