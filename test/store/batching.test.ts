import { existsSync, readFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import t from 'tap';
import { FarrierError } from '../../src/errors.js';
import type { Lease } from '../../src/model/types.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { finished, spawnFixture } from './fixtures/child.js';
import { tempStore } from './fixtures/tempStore.js';

/**
 * Transactions committed to the WAL so far: frames whose "database size after commit" field is set, among
 * the frames that belong to the current WAL generation (matching salts).
 */
function walCommits(dbPath: string): number {
  const wal = `${dbPath}-wal`;
  if (!existsSync(wal)) return 0;
  const buf = readFileSync(wal);
  if (buf.length < 32) return 0;
  const pageSize = buf.readUInt32BE(8);
  const salt1 = buf.readUInt32BE(16);
  const salt2 = buf.readUInt32BE(20);
  let commits = 0;
  for (let off = 32; off + 24 + pageSize <= buf.length; off += 24 + pageSize) {
    if (buf.readUInt32BE(off + 8) !== salt1 || buf.readUInt32BE(off + 12) !== salt2) break;
    if (buf.readUInt32BE(off + 4) !== 0) commits++;
  }
  return commits;
}

function otherConnectionCount(dbPath: string): number {
  const db = new Database(dbPath, { readonly: true });
  try {
    return (db.prepare(`SELECT count(*) AS n FROM objects WHERE kind = 'profiles'`).get() as { n: number }).n;
  } finally {
    db.close();
  }
}

const lease = (i: number): Lease => ({
  address: `10.0.${i >> 8}.${i & 255}`, mac: `02:00:00:00:${(i >> 8).toString(16)}:${(i & 255).toString(16)}`,
  state: 'offered', expiresAt: '2030-01-01T00:00:00.000Z', subnet: 'lab', hostname: null, clientId: null,
  updatedAt: '2026-01-01T00:00:00.000Z',
});

t.test('writes issued in one event-loop turn commit as one transaction, and resolve only after it', async (t) => {
  const { store, path } = await tempStore(t);
  const before = walCommits(path);
  const writes: Promise<unknown>[] = [];
  for (let i = 0; i < 300; i++) {
    writes.push(store.put('profiles', `p${i}`, { name: `p${i}`, params: {}, description: '' }, { mode: 'create' }));
    writes.push(store.claimLease(lease(i), new Date()));
  }
  t.equal(otherConnectionCount(path), 0, 'nothing is committed while the turn is still running');
  t.equal(await store.get('profiles', 'p0'), undefined, 'reads see committed data only');
  const results = await Promise.all(writes);
  t.equal(results.length, 600);
  t.equal(walCommits(path) - before, 1, 'one commit for 600 writes');
  t.equal(otherConnectionCount(path), 300, 'all of them are visible to another connection once resolved');
  t.equal((await store.listLeases({ limit: 0 })).total, 300);
});

t.test('without group commit every write is its own transaction', async (t) => {
  const { store, path } = await tempStore(t, { groupCommit: false });
  const before = walCommits(path);
  await Promise.all(Array.from({ length: 20 }, (_, i) => store.claimLease(lease(i), new Date())));
  t.equal(walCommits(path) - before, 20);
});

t.test('a failing write rejects alone; the rest of its batch commits', async (t) => {
  const { store, path } = await tempStore(t);
  await store.put('machines', 'u0', { uuid: 'u0', name: 'taken', macs: [] }, { mode: 'create' });
  const before = walCommits(path);
  const outcomes = await Promise.allSettled([
    store.put('profiles', 'a', { name: 'a' }, { mode: 'create' }),
    store.put('profiles', 'a', { name: 'a again' }, { mode: 'create' }),
    store.put('machines', 'u1', { uuid: 'u1', name: 'taken', macs: ['aa:00:00:00:00:01'] }, { mode: 'create' }),
    store.put('profiles', 'b', { name: 'b' }, { mode: 'create' }),
    store.putLease({ ...lease(1), address: 'not an address' }),
    store.claimLease(lease(2), new Date()),
    store.setPrefs({ x: 1 }),
  ]);
  t.same(outcomes.map((o) => o.status), ['fulfilled', 'rejected', 'rejected', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
  const reasons = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as FarrierError] : []));
  t.same(reasons.map((r) => r.code), ['CONFLICT', 'CONFLICT', 'VALIDATION']);
  t.equal(walCommits(path) - before, 1, 'still one transaction');
  t.equal((await store.get<{ name: string }>('profiles', 'a'))?.name, 'a', 'the failed create did not overwrite');
  t.equal(await store.get('machines', 'u1'), undefined);
  t.equal(
    await store.findOne('machines', [{ path: ['macs'], value: 'aa:00:00:00:00:01' }]),
    undefined,
    'the failed write left no unique-index rows behind',
  );
  t.ok(await store.put('machines', 'u2', { uuid: 'u2', name: 'other', macs: ['aa:00:00:00:00:01'] }, { mode: 'create' }),
    'its MAC is still free');
  t.ok(await store.get('profiles', 'b'));
  t.same(await store.getPrefs(), { x: 1 });
});

t.test('close() commits the pending batch; later calls fail UNAVAILABLE', async (t) => {
  const path = `${t.testdir()}/farrier.db`;
  const store = await openSqliteStore(path);
  const pending = store.put('profiles', 'last', { name: 'last' }, { mode: 'create' });
  await store.close();
  t.ok(await pending, 'the write queued before close resolved');
  const err = await store.put('profiles', 'late', { name: 'late' }, { mode: 'create' }).then(() => undefined, (e: unknown) => e);
  t.equal((err as FarrierError).code, 'UNAVAILABLE');
  t.match((err as FarrierError).message, /closed/);
  t.equal((await store.get('profiles', 'x').catch((e: FarrierError) => e.code)), 'UNAVAILABLE');
  await store.close();
  const reopened = await openSqliteStore(path);
  t.teardown(() => reopened.close());
  t.ok(await reopened.get('profiles', 'last'));
});

t.test('two processes incrementing one object with expectVersion lose no update', async (t) => {
  const { store, path } = await tempStore(t);
  const children = [spawnFixture('counter.ts', [path, '300']), spawnFixture('counter.ts', [path, '300'])];
  const done = Promise.all(children.map(finished));
  await Promise.all(children.map((c) => new Promise((resolve) => c.stdout.once('data', resolve))));
  for (const c of children) c.stdin.end('go\n');
  const runs = await done;
  for (const r of runs) {
    t.equal(r.code, 0, r.stderr);
    t.match(r.stdout, /^done \d+$/m);
  }
  t.equal((await store.get<{ count: number }>('profiles', 'counter'))?.count, 600);
  t.equal(await store.checkIntegrity(), 'ok');
  t.comment(`version conflicts retried: ${runs.map((r) => /done (\d+)/.exec(r.stdout)?.[1]).join(', ')}`);
});
