/**
 * Group commit. Every write the store accepts in one event-loop turn is queued; at the end of the turn
 * (setImmediate) the whole queue runs in ONE `BEGIN IMMEDIATE … COMMIT`, each op inside its own SAVEPOINT,
 * so a failing op is rolled back alone and rejects only its own promise. Promises settle only after COMMIT
 * returns: a resolved write is committed (and as durable as the `synchronous` setting makes it). If the
 * commit itself fails, every op of the batch rejects and nothing of it is kept. With a `durable` step (the
 * WAL sync of walSync.ts) the promises settle only once it has resolved after the COMMIT; the next batch
 * does not wait for it, so one batch's disk sync overlaps the next batch's work.
 *
 * Another process holding the write lock (a CLI tool, `sqlite3`, a backup) makes BEGIN IMMEDIATE fail with
 * SQLITE_BUSY at once (the connection's own busy wait is kept short because it blocks the event loop, and with
 * it DHCP, TFTP and HTTP). The batch then waits asynchronously, retrying every few milliseconds, and fails
 * UNAVAILABLE (reason LOCKED) only once the lock has been held for `busyTimeoutMs`; meanwhile the process
 * keeps serving everything that does not write.
 *
 * Reads do not go through the queue: they run synchronously on the same connection and, because a batch
 * runs start to finish inside one callback, they only ever see committed data — never half a batch. A write
 * is therefore visible to reads once its promise has resolved, not before.
 */
import type { Database } from 'better-sqlite3';
import { FarrierError } from '../../errors.js';
import { isBusy, mapSqliteError } from './errors.js';
import type { Statements } from './statements.js';

interface Pending {
  op: () => unknown;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/** Pause between attempts to take a write lock held by another process. */
const BUSY_RETRY_MS = 10;

export class WriteQueue {
  private pending: Pending[] = [];
  private scheduled = false;
  private closed = false;
  /** Since when the queue has been waiting for another process's write lock (undefined: not waiting). */
  private busySince: number | undefined;
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Database,
    private readonly stmts: Statements,
    private readonly dbPath: string,
    /** false: every write commits on its own, immediately (one sync per write). */
    private readonly groupCommit: boolean,
    /** How long writes wait, in total, for a write lock held by another process. */
    private readonly busyTimeoutMs: number,
    /** Makes a committed batch durable (resolves once it is on disk); absent: COMMIT itself is enough. */
    private readonly durable?: () => Promise<void>,
  ) {}

  run<R>(op: () => R): Promise<R> {
    if (this.closed) {
      return Promise.reject(new FarrierError('UNAVAILABLE', `store ${this.dbPath} is closed`));
    }
    return new Promise<R>((resolve, reject) => {
      this.pending.push({ op, resolve: resolve as (value: unknown) => void, reject });
      if (this.busySince !== undefined) {
        // Waiting for another process's lock: this write joins the batch that retries.
      } else if (!this.groupCommit) {
        this.flush();
      } else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Commit what is queued and refuse further writes. */
  close(): void {
    clearTimeout(this.retryTimer);
    this.flush(true);
    this.closed = true;
  }

  private flush(final = false): void {
    this.scheduled = false;
    this.retryTimer = undefined;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    try {
      this.stmts.get('BEGIN IMMEDIATE').run();
    } catch (err) {
      const now = Date.now();
      this.busySince ??= now;
      if (isBusy(err) && !final && now - this.busySince < this.busyTimeoutMs) {
        this.pending = batch.concat(this.pending);
        this.retryTimer = setTimeout(() => this.flush(), BUSY_RETRY_MS);
        return;
      }
      this.busySince = undefined;
      const mapped = mapSqliteError(err, this.dbPath);
      for (const p of batch) p.reject(mapped);
      return;
    }
    this.busySince = undefined;
    const outcomes: Outcome[] = [];
    try {
      for (const p of batch) outcomes.push(this.runOne(p.op));
      this.stmts.get('COMMIT').run();
    } catch (err) {
      this.rollback();
      const mapped = mapSqliteError(err, this.dbPath);
      for (const p of batch) p.reject(mapped);
      return;
    }
    const settle = (): void =>
      batch.forEach((p, i) => {
        const o = outcomes[i];
        if (o.ok) p.resolve(o.value);
        else p.reject(o.error);
      });
    if (!this.durable) settle();
    else
      this.durable().then(settle, (err: unknown) => {
        for (const p of batch) p.reject(err);
      });
  }

  private rollback(): void {
    if (!this.db.inTransaction) return;
    try {
      this.stmts.get('ROLLBACK').run();
    } catch {
      // SQLite already abandoned the transaction (I/O error); the batch's callers get the original error.
    }
  }

  private runOne(op: () => unknown): Outcome {
    this.stmts.get('SAVEPOINT op').run();
    try {
      const value = op();
      this.stmts.get('RELEASE op').run();
      return { ok: true, value };
    } catch (error) {
      // Some errors (SQLITE_FULL, I/O errors) make SQLite abandon the whole transaction; the batch then fails.
      if (!this.db.inTransaction) throw error;
      this.stmts.get('ROLLBACK TO op').run();
      this.stmts.get('RELEASE op').run();
      return { ok: false, error: mapSqliteError(error, this.dbPath) };
    }
  }
}
