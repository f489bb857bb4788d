/**
 * The TFTP server on a worker thread of its own (worker.ts), with the same interface as startTftpServer: the
 * daemon's TFTP no longer shares an event loop with DHCP, HTTP and rendering. The boot tree, the logger and
 * onTransfer stay on this thread; counters() answers from the worker's latest report (sent with every
 * finished transfer and, for datagram counters, within 200 ms of a change). A worker that dies is started
 * again a second later on the same port.
 */
import { Worker } from 'node:worker_threads';
import { FarrierError, type ErrorCode } from '../errors.js';
import type { BootTreeEntry } from './ports.js';
import type { TftpCounters, TftpLogger, TftpServer, TftpServerConfig } from './server.js';
import type { FromWorker, ToWorker, WorkerSettings } from './threadProtocol.js';

const zero: TftpCounters = { datagrams: 0, malformed: 0, rejected: 0, duplicates: 0, busy: 0, requests: 0, complete: 0, missing: 0, failed: 0, bytesSent: 0, active: 0, strays: 0 };
const quiet: TftpLogger = { debug() {}, info() {}, warn() {} };
const RESTART_MS = 1000;

/** The worker's entry: worker.js next to this file, or worker.ts when running from the sources (tests). */
const workerUrl = new URL(import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js', import.meta.url);

/**
 * What crosses to the worker. A file's bytes are read there (its own cache for small files, read-ahead from
 * disk for large ones) rather than copied across: the tree may hold a 64 MiB initrd in memory.
 */
function forWorker(entry: BootTreeEntry): BootTreeEntry {
  if (entry.kind !== 'file') return entry;
  const { data: _inMemory, ...file } = entry;
  return file;
}

const sum = (a: TftpCounters, b: TftpCounters): TftpCounters =>
  Object.fromEntries(Object.entries(a).map(([k, v]) => [k, v + b[k as keyof TftpCounters]])) as unknown as TftpCounters;

export function startTftpThread(config: TftpServerConfig): Promise<TftpServer> {
  const log = config.logger ?? quiet;
  const { tree: _tree, logger: _logger, onTransfer: _onTransfer, ...settings } = config;
  /** Counters of workers that died, so totals never go backwards across a restart. */
  let earlier = zero;
  let current = zero;
  let worker: Worker | undefined;
  /** A worker is up and listening (false between a death and its restart). */
  let alive = false;
  let closing: Promise<void> | undefined;
  let onClosed: (() => void) | undefined;

  /** Starts a worker; resolves with its port once it listens, rejects if it cannot. */
  const spawn = (port: number): Promise<number> =>
    new Promise<number>((resolve, reject) => {
      const w = new Worker(workerUrl, { workerData: { ...settings, port } satisfies WorkerSettings });
      worker = w;
      const send = (m: ToWorker): void => w.postMessage(m);
      let listening = false;
      w.on('message', (m: FromWorker) => {
        switch (m.type) {
          case 'listening':
            listening = true;
            alive = true;
            resolve(m.port);
            break;
          case 'bind-error':
            reject(new FarrierError(m.code as ErrorCode, m.message, [], m.detail));
            break;
          case 'lookup':
            // a tree that throws (even synchronously) becomes a TFTP error in the worker, never a crash here
            Promise.resolve()
              .then(() => config.tree.lookup(m.path, m.client))
              .then(
                (entry) => send({ type: 'entry', id: m.id, entry: forWorker(entry) }),
                (err: unknown) => send({ type: 'entry-error', id: m.id, message: err instanceof Error ? err.message : String(err) }),
              );
            break;
          case 'log':
            log[m.level](m.obj, m.msg);
            break;
          case 'transfer':
            current = m.counters;
            config.onTransfer?.(m.event);
            break;
          case 'counters':
          case 'closed':
            current = m.counters;
            break;
        }
      });
      w.on('error', (err) => log.warn({ err: err.message, stack: err.stack }, 'tftp worker thread failed'));
      w.on('exit', (code) => {
        alive = false;
        if (!listening) {
          reject(new FarrierError('UNAVAILABLE', `TFTP worker thread exited (code ${code}) before listening`));
          return;
        }
        if (closing) {
          onClosed?.();
          return;
        }
        earlier = sum(earlier, { ...current, active: 0 });
        current = zero;
        log.warn({ code, restartInMs: RESTART_MS }, 'tftp worker thread exited; starting it again');
        setTimeout(() => {
          if (closing) return;
          spawn(port).catch((err: unknown) => log.warn({ err: err instanceof Error ? err.message : String(err) }, 'tftp worker thread could not start again'));
        }, RESTART_MS).unref();
      });
    });

  return spawn(config.port).then((port) => ({
    host: config.host,
    port,
    counters: () => sum(earlier, current),
    close: (graceMs = 0) =>
      (closing ??= new Promise<void>((done) => {
        onClosed = done;
        if (!worker || !alive) return done();
        worker.postMessage({ type: 'close', graceMs } satisfies ToWorker);
      })),
  }));
}
