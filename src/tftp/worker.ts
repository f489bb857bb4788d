/**
 * The TFTP worker thread: runs startTftpServer on its own event loop, so a lockstep transfer's next block
 * waits only for the client, never for DHCP, HTTP or rendering work on the main thread (in a boot storm the
 * loader's 51 blocks each waited for the shared loop to come round). Lookups go to the main thread's boot
 * tree; logs, transfer events and counters come back to it (threadProtocol.ts).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { FarrierError } from '../errors.js';
import type { BootTreeEntry, TftpClient } from './ports.js';
import { startTftpServer, type TftpCounters, type TftpLogger } from './server.js';
import type { FromWorker, LogLevel, ToWorker, WorkerSettings } from './threadProtocol.js';

if (!parentPort) throw new Error('src/tftp/worker.ts runs as a worker thread (see threaded.ts)');
const port = parentPort;
const settings = workerData as WorkerSettings;
const post = (m: FromWorker): void => port.postMessage(m);

const pending = new Map<number, { resolve: (e: BootTreeEntry) => void; reject: (err: Error) => void }>();
let nextId = 1;

/** Structured clone turns Buffers into plain Uint8Arrays; the transfer code wants Buffers. */
function asBuffer(data: Uint8Array): Buffer {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

const tree = {
  lookup(path: string, client: TftpClient): Promise<BootTreeEntry> {
    const id = nextId++;
    return new Promise<BootTreeEntry>((resolve, reject) => {
      pending.set(id, { resolve, reject });
      post({ type: 'lookup', id, path, client: { address: client.address, port: client.port } });
    });
  },
};

const log = (level: LogLevel) => (obj: object, msg: string) => post({ type: 'log', level, obj, msg });
const logger: TftpLogger = { debug: log('debug'), info: log('info'), warn: log('warn') };

let lastCounters = '';
let server: Awaited<ReturnType<typeof startTftpServer>> | undefined;
const snapshot = (): TftpCounters => server!.counters();

// Datagram counters (malformed, busy, strays …) move without a transfer ending: report them when they change.
const ticker = setInterval(() => {
  if (!server) return;
  const counters = snapshot();
  const text = JSON.stringify(counters);
  if (text === lastCounters) return;
  lastCounters = text;
  post({ type: 'counters', counters });
}, 200);
ticker.unref();

port.on('message', (m: ToWorker) => {
  if (m.type === 'entry' || m.type === 'entry-error') {
    const waiting = pending.get(m.id);
    pending.delete(m.id);
    if (!waiting) return;
    if (m.type === 'entry-error') waiting.reject(new Error(m.message));
    else {
      const e = m.entry;
      // file entries arrive without their bytes (threaded.ts): the worker reads files itself
      waiting.resolve(e.kind === 'buffer' ? { ...e, data: asBuffer(e.data) } : e);
    }
  } else if (m.type === 'close') {
    void server?.close(m.graceMs).then(() => {
      clearInterval(ticker);
      post({ type: 'closed', counters: snapshot() });
      port.close();
    });
  }
});

try {
  server = await startTftpServer({
    ...settings,
    tree,
    logger,
    onTransfer: (event) => {
      const counters = snapshot();
      lastCounters = JSON.stringify(counters);
      post({ type: 'transfer', event, counters });
    },
  });
  post({ type: 'listening', port: server.port });
} catch (err) {
  const detail = err instanceof FarrierError ? (err.detail ?? {}) : {};
  const code = err instanceof FarrierError ? err.code : 'UNAVAILABLE';
  post({ type: 'bind-error', code, message: err instanceof Error ? err.message : String(err), detail });
  port.close();
}

