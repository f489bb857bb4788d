/**
 * The Store on better-sqlite3: one connection per process, WAL journal, schema migrations at open, reads run
 * synchronously, writes go through the group-commit queue (see writeQueue.ts for the guarantees).
 *
 * Durability. In WAL mode a COMMIT appends to the -wal file with write(2); once that returns the data is in
 * the kernel, so killing the process (kill -9, crash, OOM) cannot lose it, even with synchronous=NORMAL.
 * What NORMAL can lose is the last commits before a power cut or kernel crash (the database stays
 * consistent either way). `durability: 'power'` (the default) makes an acknowledged write survive power
 * loss too: each committed batch waits for an fdatasync of the WAL on the thread pool before its writes
 * resolve (walSync.ts: FULL's guarantee without blocking the event loop); group commit pays that sync once
 * per batch rather than once per write, which keeps the DHCP path fast. `'process'` trades that guarantee
 * for speed on hosts whose state can be rebuilt.
 *
 * A database in a read-only data directory opens as a read-only copy (see readOnly.ts): reads work, every
 * write fails UNAVAILABLE with reason READ_ONLY.
 *
 * Several processes may open the same file (daemon + CLI tools): writes take the lock with BEGIN IMMEDIATE
 * and wait up to `busyTimeoutMs` for it. better-sqlite3 is synchronous, so SQLite's own busy wait would
 * block this process's event loop: it is used only while opening (migrations); afterwards the connection
 * waits at most BUSY_WAIT_MS and the write queue retries asynchronously (writeQueue.ts), so a lock held
 * by another process delays writes, not DHCP, TFTP or HTTP. Lost updates between processes are prevented
 * with `expectVersion`.
 */
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { FarrierError } from '../../errors.js';
import type { Kind, Lease, Meta, TimelineEntry } from '../../model/types.js';
import type { Filter, ListQuery, ListResult, PutOptions, Reference, Store, Stored } from '../store.js';
import { mapSqliteError } from './errors.js';
import { Leases } from './leases.js';
import { MIGRATIONS, currentVersion, latestVersion, migrate } from './migrations.js';
import { Objects } from './objects.js';
import { Prefs } from './prefs.js';
import { inReadOnlyDirectory, openReadOnlyCopy } from './readOnly.js';
import { Statements } from './statements.js';
import { Timeline } from './timeline.js';
import { WalSync } from './walSync.js';
import { WriteQueue } from './writeQueue.js';

export interface SqliteStoreOptions {
  /** 'power' (default): acknowledged writes survive power loss (WAL synced before they resolve). 'process': they survive a killed process. */
  durability?: 'process' | 'power';
  /** Commit all writes issued in one event-loop turn together (default true). */
  groupCommit?: boolean;
  /** How long a write waits for another process's write lock before failing UNAVAILABLE (default 5000). */
  busyTimeoutMs?: number;
}

/** SQLite's own (blocking) busy wait once the store is open: long enough for a reader to ride out a WAL reset. */
const BUSY_WAIT_MS = 5;

class SqliteStore implements Store {
  private readonly stmts: Statements;
  private readonly objects: Objects;
  private readonly prefs: Prefs;
  private readonly leases: Leases;
  private readonly timelines: Timeline;
  private readonly writes: WriteQueue;
  private closed = false;

  constructor(
    private readonly db: Database.Database,
    private readonly path: string,
    groupCommit: boolean,
    busyTimeoutMs: number,
    private readonly walSync?: WalSync,
  ) {
    this.stmts = new Statements(db);
    this.objects = new Objects(this.stmts);
    this.prefs = new Prefs(this.stmts);
    this.leases = new Leases(this.stmts);
    this.timelines = new Timeline(this.stmts);
    this.writes = new WriteQueue(db, this.stmts, path, groupCommit, busyTimeoutMs, walSync && (() => walSync.sync()));
  }

  private read<R>(fn: () => R): Promise<R> {
    if (this.closed) return Promise.reject(new FarrierError('UNAVAILABLE', `store ${this.path} is closed`));
    try {
      return Promise.resolve(fn());
    } catch (err) {
      return Promise.reject(mapSqliteError(err, this.path));
    }
  }

  get<T>(kind: Kind, key: string): Promise<Stored<T> | undefined> {
    return this.read(() => this.objects.get<T>(kind, key));
  }

  findOne<T>(kind: Kind, filters: Filter[]): Promise<Stored<T> | undefined> {
    return this.read(() => this.objects.findOne<T>(kind, filters));
  }

  list<T>(kind: Kind, query?: ListQuery): Promise<ListResult<Stored<T>>> {
    return this.read(() => this.objects.list<T>(kind, query));
  }

  put<T extends object>(kind: Kind, key: string, obj: Omit<T, keyof Meta>, opts: PutOptions): Promise<Stored<T>> {
    return this.writes.run(() => this.objects.put<T>(kind, key, obj, opts, new Date()));
  }

  delete<T>(kind: Kind, key: string, opts?: { blockedBy?: Reference[] }): Promise<Stored<T> | undefined> {
    return this.writes.run(() => this.objects.delete<T>(kind, key, opts?.blockedBy));
  }

  getPrefs(): Promise<Record<string, unknown>> {
    return this.read(() => this.prefs.all());
  }

  setPrefs(values: Record<string, unknown>): Promise<Record<string, unknown>> {
    return this.writes.run(() => this.prefs.merge(values));
  }

  getLease(address: string): Promise<Lease | undefined> {
    return this.read(() => this.leases.get(address));
  }

  getLeaseByMac(mac: string): Promise<Lease | undefined> {
    return this.read(() => this.leases.getByMac(mac));
  }

  listLeases(query?: ListQuery): Promise<ListResult<Lease>> {
    return this.read(() => this.leases.list(query));
  }

  claimLease(lease: Lease, now: Date): Promise<boolean> {
    return this.writes.run(() => this.leases.claim(lease, now));
  }

  putLease(lease: Lease): Promise<void> {
    return this.writes.run(() => this.leases.put(lease));
  }

  deleteLease(address: string): Promise<Lease | undefined> {
    return this.writes.run(() => this.leases.delete(address));
  }

  firstUnleased(from: number, to: number): Promise<number | undefined> {
    return this.read(() => this.leases.firstUnleased(from, to));
  }

  oldestReclaimable(from: number, to: number, now: Date): Promise<Lease | undefined> {
    return this.read(() => this.leases.oldestReclaimable(from, to, now));
  }

  sweepLeases(now: Date): Promise<number> {
    return this.writes.run(() => this.leases.sweep(now));
  }

  leaseCounts(from: number, to: number): Promise<Record<string, number>> {
    return this.read(() => this.leases.counts(from, to));
  }

  appendTimeline(entries: TimelineEntry[], keep: number): Promise<void> {
    return this.writes.run(() => this.timelines.append(entries, keep));
  }

  timeline(machine: string, limit: number): Promise<TimelineEntry[]> {
    return this.read(() => this.timelines.list(machine, limit));
  }

  deleteTimeline(machine: string): Promise<void> {
    return this.writes.run(() => this.timelines.delete(machine));
  }

  checkIntegrity(): Promise<string> {
    return this.read(() => {
      const rows = this.db.pragma('integrity_check') as { integrity_check: string }[];
      const fkRows = this.db.pragma('foreign_key_check') as unknown[];
      const problems = rows.map((r) => r.integrity_check).filter((m) => m !== 'ok');
      if (fkRows.length > 0) problems.push(`${fkRows.length} rows violate foreign keys`);
      const blocks = this.leases.blockCountMismatches();
      if (blocks > 0) problems.push(`${blocks} lease_blocks rows disagree with the leases table`);
      return problems.length === 0 ? 'ok' : problems.join('\n');
    });
  }

  externalVersion(): Promise<number> {
    // SQLite's data_version moves only for commits made by other connections; this process has one.
    return this.read(() => this.db.pragma('data_version', { simple: true }) as number);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.writes.close();
    this.closed = true;
    await this.walSync?.close();
    try {
      this.db.close();
    } catch (err) {
      throw mapSqliteError(err, this.path);
    }
  }
}

/** Open (creating and migrating as needed) the Farrier database at `path`. */
export async function openSqliteStore(path: string, opts: SqliteStoreOptions = {}): Promise<Store> {
  // better-sqlite3 reports a missing directory as a plain TypeError; say what to do instead.
  if (path !== ':memory:' && !existsSync(dirname(path))) {
    throw new FarrierError('UNAVAILABLE', `store ${path}: its directory ${dirname(path)} does not exist; check that the data directory exists and is writable`);
  }
  let db: Database.Database | undefined;
  const busyTimeoutMs = opts.busyTimeoutMs ?? 5000;
  try {
    try {
      db = new Database(path, { timeout: busyTimeoutMs });
      const mode = db.pragma('journal_mode = WAL', { simple: true }) as string;
      if (mode !== 'wal' && path !== ':memory:') {
        throw new FarrierError('UNAVAILABLE', `store ${path}: cannot use WAL journaling (got ${mode}); put the data directory on a local filesystem`);
      }
    } catch (err) {
      if (!inReadOnlyDirectory(path)) throw err;
      db?.close();
      db = openReadOnlyCopy(path);
      if (currentVersion(db) !== latestVersion(MIGRATIONS)) {
        throw new FarrierError('UNAVAILABLE', `store ${path}: the data directory is read-only and the database needs a schema upgrade; make the directory writable`, [], { reason: 'READ_ONLY', path });
      }
      return new SqliteStore(db, path, opts.groupCommit ?? true, busyTimeoutMs);
    }
    // an in-memory database has nothing to sync; 'power' on a file syncs the WAL itself (walSync.ts)
    const syncWal = opts.durability !== 'process' && path !== ':memory:';
    db.pragma(`synchronous = ${opts.durability === 'process' || syncWal ? 'NORMAL' : 'FULL'}`);
    db.pragma('foreign_keys = ON');
    migrate(db, MIGRATIONS, path);
    db.pragma(`busy_timeout = ${BUSY_WAIT_MS}`);
    return new SqliteStore(db, path, opts.groupCommit ?? true, busyTimeoutMs, syncWal ? new WalSync(`${path}-wal`) : undefined);
  } catch (err) {
    db?.close();
    throw mapSqliteError(err, path);
  }
}

export { MIGRATIONS, migrate, currentVersion, latestVersion } from './migrations.js';
export { ipv4ToInt } from './leases.js';
