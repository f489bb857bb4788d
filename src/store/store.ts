/**
 * The storage seam. Everything above this interface (services, API, protocol adapters) speaks only to it;
 * SQL and SQLite specifics stay in store/sqlite/. A PostgreSQL backend will implement the same interface so
 * several Farrier nodes can share state, hence every operation is async and each method is one transaction:
 * when its promise resolves, the change is committed and survives `kill -9`.
 */
import type { Kind, Lease, Meta, TimelineEntry } from '../model/types.js';

/** Equality filter on a JSON path of the object; an array field matches when any element equals `value`. */
export interface Filter {
  path: string[];
  value: string | number | boolean | null;
}

export interface ListQuery {
  /** All filters must match. */
  filters?: Filter[];
  /** JSON path to sort by (default: the key), ascending unless `desc`. */
  sort?: { path: string[]; desc?: boolean };
  limit?: number;
  offset?: number;
}

export interface ListResult<T> {
  items: T[];
  /** Number of matches before limit/offset (X-Total-Count). */
  total: number;
}

export interface PutOptions {
  /** create: fail with CONFLICT if the key exists; replace: fail with NOT_FOUND if it does not; upsert: either. */
  mode: 'create' | 'replace' | 'upsert';
  /** Optimistic concurrency: fail with CONFLICT unless the stored object's `version` equals this. */
  expectVersion?: number;
}

/** "Objects of `kind` whose field at `path` equals (or, for arrays, contains) the key being deleted." */
export interface Reference {
  kind: Kind;
  path: string[];
}

export type Stored<T> = T & Meta;

/** Input to put(): the object without the store-managed metadata. */
export type Unstored<T> = Omit<T, keyof Meta>;

export interface Store {
  get<T>(kind: Kind, key: string): Promise<Stored<T> | undefined>;
  /** First object matching all filters (used for unique lookups: machine by MAC or name). */
  findOne<T>(kind: Kind, filters: Filter[]): Promise<Stored<T> | undefined>;
  list<T>(kind: Kind, query?: ListQuery): Promise<ListResult<Stored<T>>>;
  /**
   * Write one object, setting createdAt/updatedAt/version. Enforces the unique fields (machines: `name` and
   * every element of `macs`; reservations: `mac`; subnets: `cidr`) with a CONFLICT error naming the field,
   * the value and the key of the object that holds it.
   */
  put<T extends object>(kind: Kind, key: string, obj: Unstored<T>, opts: PutOptions): Promise<Stored<T>>;
  /**
   * Delete one object and return it (undefined when absent). With `blockedBy`, refuse atomically with a
   * CONFLICT error listing the referencing objects (`kind/key`) if any exist.
   */
  delete<T>(kind: Kind, key: string, opts?: { blockedBy?: Reference[] }): Promise<Stored<T> | undefined>;

  getPrefs(): Promise<Record<string, unknown>>;
  /** Merge `values` into the prefs map (a null value removes the key); returns the new map. */
  setPrefs(values: Record<string, unknown>): Promise<Record<string, unknown>>;

  getLease(address: string): Promise<Lease | undefined>;
  /** The lease row held by this MAC (at most one row per MAC is live; the newest is returned). */
  getLeaseByMac(mac: string): Promise<Lease | undefined>;
  listLeases(query?: ListQuery): Promise<ListResult<Lease>>;
  /**
   * Atomically take `lease.address` for `lease.mac`: succeeds (true) when the address has no row, or its row
   * belongs to the same MAC, or its row is no longer live at `now` (state expired/released, or expiresAt <=
   * now); otherwise false and nothing changes. On success any other row of this MAC is removed, so a MAC
   * never holds two live leases.
   */
  claimLease(lease: Lease, now: Date): Promise<boolean>;
  /** Unconditional upsert by address (state changes of a lease the caller already owns). */
  putLease(lease: Lease): Promise<void>;
  deleteLease(address: string): Promise<Lease | undefined>;
  /**
   * The lowest address (as a 32-bit integer) in [from, to] that has no lease row, or undefined. Must not scan
   * the pool per call (index on the integer address; gaps found with SQL, not a loop in JS).
   */
  firstUnleased(from: number, to: number): Promise<number | undefined>;
  /** The reclaimable lease (expired/released, or expiresAt <= now; never declined before its expiry) in [from, to] that expired first. */
  oldestReclaimable(from: number, to: number, now: Date): Promise<Lease | undefined>;
  /** Mark leases whose expiresAt <= now as expired; returns how many. Declined rows past expiry are deleted. */
  sweepLeases(now: Date): Promise<number>;
  /** Counts of leases by state within [from, to] (pool usage). */
  leaseCounts(from: number, to: number): Promise<Record<string, number>>;

  /** Append boot-timeline entries; in the same transaction each machine keeps only its newest `keep`. */
  appendTimeline(entries: TimelineEntry[], keep: number): Promise<void>;
  /** The newest `limit` entries of a machine's timeline, oldest first. */
  timeline(machine: string, limit: number): Promise<TimelineEntry[]>;
  deleteTimeline(machine: string): Promise<void>;

  /** `PRAGMA integrity_check` or the backend's equivalent: 'ok' or the problems found. */
  checkIntegrity(): Promise<string>;
  /**
   * A number that changes whenever another process (another connection) commits to the same database, and
   * only then: this process's own writes publish events instead. Caches use it to skip their backstop reloads.
   */
  externalVersion(): Promise<number>;
  close(): Promise<void>;
}
