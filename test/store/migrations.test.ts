import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { FarrierError } from '../../src/errors.js';
import { currentVersion, ipv4ToInt, latestVersion, migrate, MIGRATIONS, openSqliteStore } from '../../src/store/sqlite/index.js';

const latest = latestVersion(MIGRATIONS);

function versions(path: string): number[] {
  const db = new Database(path, { readonly: true });
  try {
    return (db.prepare('SELECT version FROM schema_version ORDER BY version').all() as { version: number }[]).map((r) => r.version);
  } finally {
    db.close();
  }
}

t.test('a fresh database gets every migration; re-opening applies none twice and keeps the data', async (t) => {
  const path = join(t.testdir(), 'farrier.db');
  const store = await openSqliteStore(path);
  await store.put('profiles', 'global', { name: 'global', params: {}, description: '' }, { mode: 'create' });
  await store.close();
  t.same(versions(path), MIGRATIONS.map((m) => m.version));
  t.ok(latest >= 2);

  const again = await openSqliteStore(path);
  t.equal((await again.get<{ name: string }>('profiles', 'global'))?.name, 'global');
  t.equal(await again.checkIntegrity(), 'ok');
  await again.close();
  t.same(versions(path), MIGRATIONS.map((m) => m.version));
});

t.test('an older database is upgraded in place', async (t) => {
  const path = join(t.testdir(), 'farrier.db');
  const old = new Database(path);
  migrate(old, MIGRATIONS.slice(0, 1), path);
  t.equal(currentVersion(old), 1);
  old.prepare(`INSERT INTO objects (kind, key, body, version, created_at, updated_at) VALUES (?, ?, ?, 1, ?, ?)`)
    .run('profiles', 'global', JSON.stringify({ name: 'global', version: 1 }), '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z');
  old.close();

  const store = await openSqliteStore(path);
  t.teardown(() => store.close());
  t.equal((await store.get<{ name: string }>('profiles', 'global'))?.name, 'global', 'old rows survive');
  const lease = { address: '10.0.0.1', mac: 'aa:00:00:00:00:01', state: 'bound' as const, expiresAt: '2030-01-01T00:00:00.000Z',
    subnet: 'lab', hostname: null, clientId: null, updatedAt: '2026-01-01T00:00:00.000Z' };
  t.equal(await store.claimLease(lease, new Date()), true, 'tables of later migrations exist');
  t.same(versions(path), MIGRATIONS.map((m) => m.version));
});

t.test('upgrading a database that already holds leases builds the block counts from them', async (t) => {
  const path = join(t.testdir(), 'farrier.db');
  const old = new Database(path);
  const v2 = MIGRATIONS.filter((m) => m.version <= 2);
  migrate(old, v2, path);
  const insert = old.prepare(`INSERT INTO leases (addr, address, mac, state, expires_at, subnet, updated_at)
    VALUES (?, ?, ?, 'bound', 1900000000000, 'lab', '2026-01-01T00:00:00.000Z')`);
  const base = ipv4ToInt('10.0.0.0');
  for (let h = 0; h < 256 * 3; h++) {
    if (h === 600) continue;
    insert.run(base + h, `10.0.${h >> 8}.${h & 255}`, `02:00:00:00:${(h >> 8).toString(16)}:${(h & 255).toString(16)}`);
  }
  old.close();
  const store = await openSqliteStore(path);
  t.teardown(() => store.close());
  t.equal(await store.checkIntegrity(), 'ok');
  t.equal(await store.firstUnleased(base + 1, base + 767), base + 600);
});

t.test('a database from a newer Farrier is refused and left alone', async (t) => {
  const path = join(t.testdir(), 'farrier.db');
  const db = new Database(path);
  migrate(db, MIGRATIONS, path);
  db.prepare(`INSERT INTO schema_version (version, description, applied_at) VALUES (?, 'from the future', ?)`)
    .run(latest + 7, new Date().toISOString());
  db.close();

  const err = await openSqliteStore(path).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(err instanceof FarrierError);
  t.equal((err as FarrierError).code, 'UNAVAILABLE');
  t.match((err as FarrierError).message, `store ${path} has schema version ${latest + 7}, but this Farrier only knows versions up to ${latest}`);
  t.match((err as FarrierError).message, /newer Farrier/);
  t.same(versions(path).at(-1), latest + 7, 'nothing was rolled back or rewritten');
});

t.test('a file that is not a database is refused with the path and a remedy', async (t) => {
  const path = join(t.testdir(), 'farrier.db');
  writeFileSync(path, 'this is not sqlite'.repeat(100));
  const err = await openSqliteStore(path).then(() => undefined, (e: unknown) => e);
  t.equal((err as FarrierError).code, 'UNAVAILABLE');
  t.match((err as FarrierError).message, path);
  t.match((err as FarrierError).message, /not a Farrier database: restore it from a backup or move it aside/);
});

t.test(':memory: gives a working private store (for tests of other layers)', async (t) => {
  const store = await openSqliteStore(':memory:');
  t.teardown(() => store.close());
  await store.put('profiles', 'global', { name: 'global' }, { mode: 'create' });
  t.equal((await store.get<{ name: string }>('profiles', 'global'))?.name, 'global');
  t.equal(await store.checkIntegrity(), 'ok');
});
