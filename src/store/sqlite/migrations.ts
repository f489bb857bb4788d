/**
 * Schema migrations: an ordered list, applied in one transaction at open. `schema_version` keeps one row
 * per applied migration; the database's version is the highest. A database written by a newer Farrier is
 * refused rather than guessed at, because older code could silently drop what it does not know.
 */
import type { Database } from 'better-sqlite3';
import { FarrierError } from '../../errors.js';

export interface Migration {
  version: number;
  description: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'objects, unique field index, prefs',
    sql: `
      CREATE TABLE objects (
        kind TEXT NOT NULL,
        key TEXT NOT NULL,
        body TEXT NOT NULL CHECK (json_valid(body)),
        version INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (kind, key)
      ) WITHOUT ROWID;
      CREATE TABLE unique_values (
        kind TEXT NOT NULL,
        field TEXT NOT NULL,
        value TEXT NOT NULL,
        key TEXT NOT NULL,
        PRIMARY KEY (kind, field, value),
        FOREIGN KEY (kind, key) REFERENCES objects (kind, key) ON DELETE CASCADE
      ) WITHOUT ROWID;
      CREATE INDEX unique_values_holder ON unique_values (kind, key);
      CREATE TABLE prefs (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL CHECK (json_valid(value))
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 2,
    description: 'DHCP leases keyed by integer address',
    sql: `
      CREATE TABLE leases (
        addr INTEGER PRIMARY KEY,
        address TEXT NOT NULL,
        mac TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('offered', 'bound', 'released', 'declined', 'expired')),
        expires_at INTEGER NOT NULL,
        subnet TEXT NOT NULL,
        hostname TEXT,
        client_id TEXT,
        updated_at TEXT NOT NULL
      );
      CREATE INDEX leases_mac ON leases (mac, updated_at);
      CREATE INDEX leases_expiry ON leases (expires_at);
      CREATE INDEX leases_subnet ON leases (subnet);
    `,
  },
  {
    version: 3,
    description: 'lease rows per block of 256 addresses, for the free-address search',
    // Kept by triggers so no code path can forget it. Lease writes use UPSERT, which fires UPDATE (not
    // DELETE + INSERT) triggers, and addresses are never updated in place, so these two are all it takes.
    sql: `
      CREATE TABLE lease_blocks (
        block INTEGER PRIMARY KEY,
        used INTEGER NOT NULL
      );
      INSERT INTO lease_blocks (block, used) SELECT addr >> 8, count(*) FROM leases GROUP BY addr >> 8;
      CREATE INDEX lease_blocks_full ON lease_blocks (block) WHERE used = 256;
      CREATE TRIGGER leases_block_add AFTER INSERT ON leases BEGIN
        INSERT OR IGNORE INTO lease_blocks (block, used) VALUES (new.addr >> 8, 0);
        UPDATE lease_blocks SET used = used + 1 WHERE block = new.addr >> 8;
      END;
      CREATE TRIGGER leases_block_remove AFTER DELETE ON leases BEGIN
        UPDATE lease_blocks SET used = used - 1 WHERE block = old.addr >> 8;
      END;
    `,
  },
  {
    version: 4,
    description: 'index lease states by expiry, for the reclaim search',
    sql: `CREATE INDEX leases_state_expiry ON leases (state, expires_at);`,
  },
  {
    version: 5,
    description: 'per-machine boot timeline',
    sql: `
      CREATE TABLE timeline (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        machine TEXT NOT NULL,
        entry TEXT NOT NULL
      );
      CREATE INDEX timeline_machine ON timeline (machine, id);
    `,
  },
  {
    version: 6,
    description: 'index object addresses: machine by client address on every bound lease and boot-file transfer',
    sql: `CREATE INDEX objects_address ON objects (kind, json_extract(body, '$.address'));`,
  },
  {
    version: 7,
    description: 'index object bootenvs: machine lists filtered by bootenv read only the matches',
    sql: `CREATE INDEX objects_bootenv ON objects (kind, json_extract(body, '$.bootenv'));`,
  },
];

export function latestVersion(migrations: readonly Migration[]): number {
  return migrations.reduce((max, m) => Math.max(max, m.version), 0);
}

/** The version recorded in `db` (0 for a new database). */
export function currentVersion(db: Database): number {
  const table = db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'`).get();
  if (table === undefined) return 0;
  const row = db.prepare('SELECT max(version) AS v FROM schema_version').get() as { v: number | null };
  return row.v ?? 0;
}

/** Bring `db` up to the last of `migrations`; returns the resulting version. */
export function migrate(db: Database, migrations: readonly Migration[], dbPath: string): number {
  const target = latestVersion(migrations);
  // IMMEDIATE: two processes opening a new database at once must not both apply migration 1.
  const run = db.transaction(() => {
    db.exec(`CREATE TABLE IF NOT EXISTS schema_version (
      version INTEGER PRIMARY KEY,
      description TEXT NOT NULL,
      applied_at TEXT NOT NULL
    )`);
    const current = currentVersion(db);
    if (current > target) {
      throw new FarrierError(
        'UNAVAILABLE',
        `store ${dbPath} has schema version ${current}, but this Farrier only knows versions up to ${target}: ` +
          'it was written by a newer Farrier; run that version, or point --data-dir at another directory',
        [],
        { path: dbPath, schemaVersion: current, supportedVersion: target },
      );
    }
    const record = db.prepare('INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)');
    for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
      if (m.version <= current) continue;
      db.exec(m.sql);
      record.run(m.version, m.description, new Date().toISOString());
    }
    return Math.max(current, target);
  });
  return run.immediate();
}
