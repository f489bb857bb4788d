/**
 * Power-loss durability without blocking the event loop. With synchronous=FULL SQLite fsyncs the WAL inside
 * COMMIT, on the thread that runs JavaScript: in a boot storm that was 17 % of the process's time, during
 * which no DHCP, TFTP or HTTP request moved. Instead the connection runs with synchronous=NORMAL (COMMIT only
 * write(2)s the frames) and the write queue, after each COMMIT, waits for an fdatasync(2) of the -wal file on
 * libuv's thread pool before it settles the batch's promises. A write is acknowledged only once its frames
 * are on disk, which is exactly FULL's guarantee; checkpoints under NORMAL still sync the WAL before copying
 * it into the database and the database afterwards.
 *
 * Syncs coalesce: a commit made while a sync runs may have been written after that sync started, so it
 * waits for the next one, and every commit arriving meanwhile shares that next one.
 *
 * The descriptor stays valid for the store's lifetime: SQLite reuses the same -wal file (it rewinds or
 * truncates it after a checkpoint) and removes it only when the last connection closes, and this process
 * keeps its connection open until close().
 */
import { closeSync, fdatasync, openSync } from 'node:fs';
import { FarrierError } from '../../errors.js';

const noop = (): void => {};

export class WalSync {
  private readonly fd: number;
  private running: Promise<void> | undefined;
  private next: Promise<void> | undefined;
  /** fdatasync calls made; the write queue's tests and the store's metrics read it. */
  syncs = 0;

  constructor(private readonly walPath: string) {
    this.fd = openSync(walPath, 'r');
  }

  /** Resolves once everything written to the WAL before this call is on disk. */
  sync(): Promise<void> {
    if (!this.running) return this.start();
    this.next ??= this.running.then(noop, noop).then(() => {
      this.next = undefined;
      return this.start();
    });
    return this.next;
  }

  /** Waits for syncs in flight, then releases the descriptor. */
  async close(): Promise<void> {
    await Promise.allSettled([this.running, this.next]);
    closeSync(this.fd);
  }

  private start(): Promise<void> {
    this.syncs++;
    const p = new Promise<void>((resolve, reject) => {
      fdatasync(this.fd, (err) => {
        if (!err) resolve();
        else
          reject(
            new FarrierError('UNAVAILABLE', `store ${this.walPath}: cannot sync the write-ahead log to disk (${err.code ?? err.message}); check the disk and the data directory`, [], {
              reason: 'IO_ERROR',
              path: this.walPath,
            }),
          );
      });
    });
    this.running = p;
    const clear = (): void => {
      if (this.running === p) this.running = undefined;
    };
    p.then(clear, clear);
    return p;
  }
}
