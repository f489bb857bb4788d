import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { FileContents } from '../../src/boot/fileContents.js';
import { fileVersion } from '../../src/boot/staticFiles.js';

function file(dir: string, name: string, bytes: number, fill = 1): { path: string; size: number; version: string } {
  const path = join(dir, name);
  writeFileSync(path, Buffer.alloc(bytes, fill));
  const st = statSync(path);
  return { path, size: st.size, version: fileVersion(st) };
}

t.test('files are read once per version and shared; memory stays under its bound, least recently used out', async (t) => {
  const dir = t.testdir();
  const kept = new FileContents(3000, 1500);
  const a = file(dir, 'a', 1000, 1);
  const b = file(dir, 'b', 1000, 2);
  const c = file(dir, 'c', 1000, 3);
  const first = await kept.get(a.path, a.size, a.version);
  t.equal(await kept.get(a.path, a.size, a.version), first, 'the same Buffer for the same version');
  await kept.get(b.path, b.size, b.version);
  await kept.get(c.path, c.size, c.version);
  t.equal(kept.size, 3000, 'three files at the bound');
  await kept.get(a.path, a.size, a.version); // a is now the most recently used
  const d = file(dir, 'd', 1000, 4);
  await kept.get(d.path, d.size, d.version);
  t.equal(kept.size, 3000, 'still at the bound after a fourth file');
  t.equal(await kept.get(a.path, a.size, a.version), first, 'the recently used file stayed');
  t.not(await kept.get(b.path, b.size, b.version), undefined, 'the least recently used one is read again when asked');
  t.ok(kept.size <= 3000);
});

t.test('a file over the per-file bound, or empty, is not kept', async (t) => {
  const dir = t.testdir();
  const kept = new FileContents(3000, 1500);
  const big = file(dir, 'big', 2000);
  t.equal(kept.get(big.path, big.size, big.version), undefined);
  const empty = file(dir, 'empty', 0);
  t.equal(kept.get(empty.path, empty.size, empty.version), undefined);
  t.equal(kept.size, 0);
});

t.test('a new version is read again; a file that changed size under the read is refused, not kept', async (t) => {
  const dir = t.testdir();
  const kept = new FileContents(3000, 1500);
  const v1 = file(dir, 'k', 100, 1);
  t.equal((await kept.get(v1.path, v1.size, v1.version))![0], 1);
  const v2 = file(dir, 'k', 100, 2);
  t.equal((await kept.get(v2.path, v2.size, v2.version))![0], 2, 'rewritten: the new bytes');
  writeFileSync(v1.path, Buffer.alloc(50));
  await t.rejects(kept.get(v1.path, 100, 'stale-version')!, /changed while being read/);
  t.equal(kept.size, 0, 'nothing is kept for it (the older version was replaced by the failed read)');
});
