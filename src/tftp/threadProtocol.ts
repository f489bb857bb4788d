/**
 * Messages between the TFTP worker thread (worker.ts) and the main thread (threaded.ts). The worker owns the
 * sockets and every transfer; the main thread owns the boot tree, the logger and the event bus, so a lookup
 * crosses once per transfer, never per block.
 */
import type { BootTreeEntry, TftpClient } from './ports.js';
import type { TftpCounters, TftpServerConfig, TransferEvent } from './server.js';

/** What the worker needs to start its server: everything in TftpServerConfig that is not a function or the tree. */
export type WorkerSettings = Omit<TftpServerConfig, 'tree' | 'logger' | 'onTransfer'>;

export type LogLevel = 'debug' | 'info' | 'warn';

export type FromWorker =
  | { type: 'listening'; port: number }
  | { type: 'bind-error'; code: string; message: string; detail: Record<string, unknown> }
  | { type: 'lookup'; id: number; path: string; client: TftpClient }
  | { type: 'log'; level: LogLevel; obj: object; msg: string }
  | { type: 'transfer'; event: TransferEvent; counters: TftpCounters }
  | { type: 'counters'; counters: TftpCounters }
  | { type: 'closed'; counters: TftpCounters };

export type ToWorker =
  | { type: 'entry'; id: number; entry: BootTreeEntry }
  | { type: 'entry-error'; id: number; message: string }
  | { type: 'close'; graceMs: number };
