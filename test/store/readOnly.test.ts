/**
 * A database in a read-only data directory (here a tmpfs remounted read-only, hence root): it opens as a
 * read-only copy whose reads work and whose writes fail UNAVAILABLE with reason READ_ONLY — unless a -wal
 * file still holds changes the copy would miss, which is refused with a message saying so.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { FarrierError } from '../../src/errors.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { findTool, requireRoot, requireTool } from '../helpers/env.js';

function tmpfs(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'farrier-ro-'));
  execFileSync(findTool('mount') ?? 'mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', dir]);
  t.teardown(() => {
    execFileSync(findTool('umount') ?? 'umount', ['-l', dir]);
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

const remount = (dir: string, mode: 'ro' | 'rw'): void => {
  execFileSync(findTool('mount') ?? 'mount', ['-o', `remount,${mode}`, dir]);
};

t.test('a cleanly closed database in a read-only directory: reads work, writes fail READ_ONLY', async (t) => {
  if (!requireRoot(t) || !requireTool(t, 'mount')) return;
  const dir = tmpfs(t);
  const path = join(dir, 'farrier.db');
  const rw = await openSqliteStore(path);
  await rw.put('profiles', 'kept', { name: 'kept' }, { mode: 'create' });
  await rw.close();
  remount(dir, 'ro');
  const store = await openSqliteStore(path);
  t.teardown(() => store.close());
  t.match(await store.get('profiles', 'kept'), { name: 'kept' }, 'stored objects are readable');
  const err = await store.put('profiles', 'new', { name: 'new' }, { mode: 'create' }).then(() => undefined, (e: unknown) => e);
  t.ok(err instanceof FarrierError, 'a write fails with a FarrierError');
  t.equal((err as FarrierError).code, 'UNAVAILABLE');
  t.match((err as FarrierError).detail, { reason: 'READ_ONLY' });
  t.equal(await store.get('profiles', 'new'), undefined, 'and is not visible afterwards');
  t.equal(await store.checkIntegrity(), 'ok');
});

t.test('changes still in the -wal file: opening read-only is refused, saying why', async (t) => {
  if (!requireRoot(t) || !requireTool(t, 'mount')) return;
  const dir = tmpfs(t);
  const live = join(t.testdir(), 'live');
  mkdirSync(live, { recursive: true });
  const rw = await openSqliteStore(join(live, 'farrier.db'));
  await rw.put('profiles', 'in-wal', { name: 'in-wal' }, { mode: 'create' });
  // What a killed daemon leaves: the database and a -wal holding the last commits.
  for (const f of ['farrier.db', 'farrier.db-wal']) copyFileSync(join(live, f), join(dir, f));
  await rw.close();
  remount(dir, 'ro');
  const err = await openSqliteStore(join(dir, 'farrier.db')).then(() => undefined, (e: unknown) => e);
  t.equal((err as FarrierError).code, 'UNAVAILABLE');
  t.match((err as FarrierError).detail, { reason: 'READ_ONLY' });
  t.match((err as FarrierError).message, /read-only and \S+farrier\.db-wal holds changes not yet in the database; make the directory writable/);
});
