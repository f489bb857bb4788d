import { join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { FarrierError } from '../../src/errors.js';
import { mapSqliteError } from '../../src/store/sqlite/errors.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { tempStore } from './fixtures/tempStore.js';

t.test('a write lock held too long by another process: UNAVAILABLE naming the file; reads go on', async (t) => {
  const { store, path } = await tempStore(t, { busyTimeoutMs: 50 });
  await store.put('profiles', 'before', { name: 'before' }, { mode: 'create' });
  const other = new Database(path);
  other.prepare('BEGIN IMMEDIATE').run();
  const err = await store.put('profiles', 'blocked', { name: 'blocked' }, { mode: 'create' }).then(() => undefined, (e: unknown) => e);
  t.ok(err instanceof FarrierError);
  t.equal((err as FarrierError).code, 'UNAVAILABLE');
  t.equal((err as FarrierError).status, 503);
  t.match((err as FarrierError).message, `store ${path}`);
  t.match((err as FarrierError).message, /SQLITE_BUSY.*another process held the write lock too long: retry/);
  t.ok(await store.get('profiles', 'before'), 'reads are not blocked by the writer (WAL)');
  other.prepare('ROLLBACK').run();
  other.close();
  t.ok(await store.put('profiles', 'blocked', { name: 'blocked' }, { mode: 'create' }), 'the next write succeeds');
});

t.test('a data directory that does not exist: UNAVAILABLE naming the path', async (t) => {
  const path = join(t.testdir(), 'missing', 'farrier.db');
  const err = await openSqliteStore(path).then(() => undefined, (e: unknown) => e);
  t.equal((err as FarrierError).code, 'UNAVAILABLE');
  t.match((err as FarrierError).message, path);
  t.match((err as FarrierError).message, /check that the data directory exists and is writable/);
});

t.test('disk full and read-only files map to UNAVAILABLE with a remedy; other errors pass through', async (t) => {
  const full = mapSqliteError(new Database.SqliteError('database or disk is full', 'SQLITE_FULL'), '/var/lib/farrier/farrier.db');
  t.ok(full instanceof FarrierError);
  t.equal((full as FarrierError).code, 'UNAVAILABLE');
  t.equal((full as FarrierError).message,
    'store /var/lib/farrier/farrier.db: database or disk is full (SQLITE_FULL); the disk holding it is full: free space, then retry');
  const ro = mapSqliteError(new Database.SqliteError('attempt to write a readonly database', 'SQLITE_READONLY_DBMOVED'), '/d/f.db');
  t.match((ro as FarrierError).message, /read-only: check the permissions of the file, its -wal\/-shm files and the data directory/);
  const syntax = new Database.SqliteError('near "x": syntax error', 'SQLITE_ERROR');
  t.equal(mapSqliteError(syntax, '/d/f.db'), syntax);
  const own = new FarrierError('CONFLICT', 'taken');
  t.equal(mapSqliteError(own, '/d/f.db'), own);
});
