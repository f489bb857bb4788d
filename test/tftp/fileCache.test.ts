/**
 * The shared cache of small files: a changed file (size, mtime or inode) is served with its new content, the
 * cache never holds more than its bound, and a storm of clients asking for a new file reads it once.
 */
import { createHash, randomBytes } from 'node:crypto';
import { renameSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { DirectoryTree } from '../../src/tftp/directoryTree.js';
import { FileCache } from '../../src/tftp/fileCache.js';
import type { BootTree, BootTreeEntry } from '../../src/tftp/ports.js';
import { startTftpServer } from '../../src/tftp/server.js';
import { tempDir } from '../helpers/env.js';
import { rawGet } from './helpers/rawClient.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const MiB = 1024 * 1024;

/** A tree like the boot tree's loader entries: path and size only, no mtime or inode (the cache stats itself). */
const sizeOnlyTree = (dir: string): BootTree => ({
  lookup: async (p): Promise<BootTreeEntry> => ({ kind: 'file', path: join(dir, p), size: statSync(join(dir, p)).size, name: p }),
});

t.test('a cached file that changes is served with its new content (size, mtime, inode)', async (t) => {
  for (const [label, treeOf] of [
    ['DirectoryTree (mtime and inode from its stat)', (dir: string) => new DirectoryTree(dir)],
    ['a tree that passes path and size only', sizeOnlyTree],
  ] as const) {
    const dir = tempDir(t);
    const file = join(dir, 'undionly.kpxe');
    const srv = await startTftpServer({ host: '127.0.0.1', port: 0, tree: treeOf(dir) });
    t.teardown(() => srv.close());
    const get = async (): Promise<Buffer> => (await rawGet({ host: '127.0.0.1', port: srv.port, file: 'undionly.kpxe', blksize: 1468, windowsize: 8 })).data;

    const a = randomBytes(70_000);
    writeFileSync(file, a);
    t.equal(sha(await get()), sha(a), `${label}: first version`);
    t.equal(sha(await get()), sha(a), `${label}: first version again (from the cache)`);

    const b = randomBytes(80_000);
    writeFileSync(file, b);
    t.equal(sha(await get()), sha(b), `${label}: new size → new content`);

    const c = randomBytes(80_000);
    writeFileSync(file, c);
    const later = new Date(Date.now() + 60_000);
    utimesSync(file, later, later);
    t.equal(sha(await get()), sha(c), `${label}: same size, new mtime → new content`);

    // same size and the same mtime, but another file (inode) renamed over it
    const d = randomBytes(80_000);
    writeFileSync(join(dir, 'next'), d);
    utimesSync(join(dir, 'next'), later, later);
    renameSync(join(dir, 'next'), file);
    t.equal(sha(await get()), sha(d), `${label}: same size and mtime, new inode → new content`);
  }
});

t.test('the cache never holds more than its bound, skips files over the per-file bound, and evicts the least recently used', async (t) => {
  const dir = tempDir(t);
  const files = Array.from({ length: 8 }, (_, i) => {
    const path = join(dir, `f${i}`);
    const data = randomBytes(MiB);
    writeFileSync(path, data);
    return { path, data };
  });
  writeFileSync(join(dir, 'big'), randomBytes(2 * MiB));
  const cache = new FileCache({ maxFileBytes: MiB, maxTotalBytes: 3 * MiB });
  t.equal(await cache.get(join(dir, 'big'), 2 * MiB), undefined, 'a file over the per-file bound is not cached (streamed instead)');
  t.equal(cache.bytes, 0);
  let max = 0;
  for (let round = 0; round < 3; round++) {
    for (const f of files) {
      const got = await cache.get(f.path, MiB);
      t.equal(got && sha(got), sha(f.data), `round ${round}: ${f.path} content`);
      max = Math.max(max, cache.bytes);
    }
  }
  t.ok(max <= 3 * MiB, `never more than 3 MiB held (at most ${max} bytes)`);
  t.equal(cache.bytes, 3 * MiB, 'full at the end');
  // the three most recently used are in memory: asking again returns the very same buffer
  const f7 = await cache.get(files[7]!.path, MiB);
  t.equal(await cache.get(files[7]!.path, MiB), f7, 'a hit returns the cached buffer');
  const f0 = await cache.get(files[0]!.path, MiB);
  t.not(await cache.get(files[1]!.path, MiB), undefined);
  t.equal(await cache.get(files[0]!.path, MiB), f0, 'recently used entries stay');
  t.ok(cache.bytes <= 3 * MiB);
  t.equal(await cache.get(files[0]!.path, MiB + 1), undefined, 'a size that does not match the file: not served from the cache');
});

t.test('a storm of requests for a file not yet cached reads it once and shares the buffer', async (t) => {
  const dir = tempDir(t);
  const data = randomBytes(500_000);
  writeFileSync(join(dir, 'ipxe.efi'), data);
  const cache = new FileCache({ maxFileBytes: 4 * MiB, maxTotalBytes: 64 * MiB });
  const all = await Promise.all(Array.from({ length: 50 }, () => cache.get(join(dir, 'ipxe.efi'), data.length)));
  t.ok(all.every((b) => b === all[0]), 'every request got the same buffer');
  t.equal(sha(all[0] as Buffer), sha(data));
  t.equal(cache.bytes, data.length, 'held once');
});
