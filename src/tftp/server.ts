/**
 * Farrier's read-only TFTP server: the hardened `tftp` package with our own request listener. Every file
 * comes from a BootTree (rendered Buffers or files on disk, always with an exact size); each transfer is
 * reported once through onTransfer and counted; a watchdog frees transfers that stop making progress.
 */
import { tmpdir } from 'node:os';
import type { RemoteInfo } from 'node:dgram';
import { createReadStream, type ReadStream } from 'node:fs';
import { Transform, type TransformCallback } from 'node:stream';
import { FarrierError } from '../errors.js';
import { RequestGate, type GateCounters } from './gate.js';
import { applyTftpHardening } from './hardening.js';
import { normaliseTftpPath } from './paths.js';
import { applyTftpSpeedups, connectToClient } from './speedups.js';
import type { BootTree, BootTreeEntry, BufferEntry, FileEntry, TftpClient } from './ports.js';
import { tftpPackage, type TftpPackageServer, type TftpRequest, type TftpResponse } from './vendor.js';

export type TransferOutcome = 'complete' | 'missing' | 'rejected' | 'failed' | 'aborted-by-client' | 'timed-out' | 'stalled';

export interface TransferEvent {
  /** The file name as the client sent it. */
  file: string;
  /** The tree path it was normalised to (absent when normalisation rejected it). */
  path?: string;
  client: TftpClient;
  outcome: TransferOutcome;
  /** Bytes handed to the protocol layer (equals size when complete). */
  bytes: number;
  size?: number;
  blockSize: number;
  windowSize: number;
  durationMs: number;
  /** One line: why it did not complete. */
  error?: string;
}

/** Structured logger; pino's Logger satisfies it. */
export interface TftpLogger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface TftpServerConfig {
  /** IP literal to bind (the package does not resolve names). */
  host: string;
  /** 0 = ephemeral (tests). */
  port: number;
  tree: BootTree;
  blockSizeMax?: number;
  windowSizeMax?: number;
  /** Retransmission timeout per window. */
  timeoutMs?: number;
  retries?: number;
  /** A transfer that moves no data for this long is aborted and freed. */
  stallTimeoutMs?: number;
  /** Transfers in flight, all clients together (default 1000); further RRQs are dropped until one ends. */
  maxTransfers?: number;
  /** Transfers in flight from one IP address (default 64). */
  maxTransfersPerClient?: number;
  logger?: TftpLogger;
  onTransfer?: (event: TransferEvent) => void;
}

export interface TftpCounters extends GateCounters {
  requests: number;
  complete: number;
  /** Not in the tree: routine, firmware probes several names (pxelinux.cfg/01-<mac>, <HEXIP>, default …). */
  missing: number;
  /** Everything else that did not complete (rejected, stalled, timed out, aborted, I/O errors). */
  failed: number;
  bytesSent: number;
  active: number;
  /** Datagrams on transfer ports ignored: shorter than 4 bytes, or from another address/port than the client's. */
  strays: number;
}

export interface TftpServer {
  host: string;
  port: number;
  counters(): TftpCounters;
  /**
   * Stops accepting requests at once; transfers in flight get up to `graceMs` to finish (default 0), then
   * are aborted with a TFTP error. Resolves when every transfer has ended.
   */
  close(graceMs?: number): Promise<void>;
}

const quietLogger: TftpLogger = { debug() {}, info() {}, warn() {} };

/** Counts bytes on their way to the protocol layer; every chunk (and every accepted ACK) is progress for the watchdog. */
class ProgressCounter extends Transform {
  bytes = 0;
  constructor(private readonly onProgress: () => void) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    this.onProgress();
    cb(null, chunk);
  }
}

/** A clear bind failure; `detail.errno` keeps the system code (EACCES, EADDRINUSE …) for callers that map it. */
function bindError(err: NodeJS.ErrnoException, host: string, port: number): FarrierError {
  const where = `udp ${host}:${port}`;
  const why =
    err.code === 'EACCES'
      ? 'permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)'
      : err.code === 'EADDRINUSE'
        ? 'address already in use (another TFTP server running?)'
        : err.code === 'EADDRNOTAVAIL'
          ? 'no local interface has that address'
          : err.message;
  return new FarrierError('UNAVAILABLE', `TFTP cannot bind ${where}: ${why}`, [], { errno: err.code ?? 'UNKNOWN', host, port });
}

export async function startTftpServer(config: TftpServerConfig): Promise<TftpServer> {
  applyTftpHardening();
  applyTftpSpeedups();
  const log = config.logger ?? quietLogger;
  const timeoutMs = config.timeoutMs ?? 1000;
  const retries = config.retries ?? 5;
  const stallTimeoutMs = config.stallTimeoutMs ?? Math.max(10_000, timeoutMs * (retries + 2));
  const counters = { requests: 0, complete: 0, missing: 0, failed: 0, bytesSent: 0, active: 0, strays: 0 };
  const gate = new RequestGate({ maxTransfers: config.maxTransfers ?? 1000, maxTransfersPerClient: config.maxTransfersPerClient ?? 64 });
  /** Abort handles of the transfers in flight (close() ends the stragglers after the grace period). */
  const running = new Set<(message: string) => void>();
  /** Resolved by the last transfer to end while close() waits. */
  let idle: (() => void) | undefined;

  const handle = (req: TftpRequest, res: TftpResponse): void => {
    const started = Date.now();
    const client: TftpClient = { address: req.stats.remoteAddress, port: req.stats.remotePort };
    // the package emits 'error' for client ERRORs and its own give-up; unhandled, it would crash the process
    let clientError: string | undefined;
    req.on('error', (err: Error) => (clientError = err.message));
    gate.started(client);
    req._ps._writer.onDropped = () => counters.strays++;
    // an accepted ACK is progress too: a slow client reading 16 KiB chunks block by block is not stalled
    req._ps._writer.onProgress = () => progress();
    counters.requests++;
    counters.active++;

    let path: string | undefined;
    let size: number | undefined;
    let counter: ProgressCounter | undefined;
    /** The file being read: an aborted transfer must close it, or every abandoned transfer leaks a descriptor. */
    let file: ReadStream | undefined;
    let outcome: TransferOutcome | undefined;
    let error: string | undefined;
    let lastProgress = Date.now();
    const progress = (): void => {
      lastProgress = Date.now();
    };
    const fail = (o: TransferOutcome, message: string, clientMessage = message): void => {
      if (outcome) return;
      outcome = o;
      error = message;
      req.abort(clientMessage);
    };

    const watchdog = setInterval(() => {
      if (Date.now() - lastProgress >= stallTimeoutMs) fail('stalled', `no progress for ${stallTimeoutMs} ms`, 'Transfer timed out');
    }, Math.min(1000, stallTimeoutMs));

    let aborted = false;
    req.on('abort', () => (aborted = true));
    const abortHandle = (message: string): void => fail('failed', message, message);
    running.add(abortHandle);
    req.on('close', () => {
      // the package emits 'abort'/'error' right after 'close': decide once they had their chance
      setImmediate(() => {
        clearInterval(watchdog);
        file?.destroy();
        running.delete(abortHandle);
        gate.ended(client);
        counters.active--;
        const bytes = counter?.bytes ?? 0;
        counters.bytesSent += bytes;
        if (!outcome) {
          if (aborted) outcome = 'failed';
          else if (clientError !== undefined) {
            // the package reports its own retransmission give-up with this text
            outcome = clientError === 'Timed out' ? 'timed-out' : 'aborted-by-client';
            error = clientError;
          } else outcome = 'complete';
        }
        if (outcome === 'complete') counters.complete++;
        else if (outcome === 'missing') counters.missing++;
        else counters.failed++;
        const event: TransferEvent = {
          file: req.file,
          path,
          client,
          outcome,
          bytes,
          size,
          blockSize: req.stats.blockSize,
          windowSize: req.stats.windowSize,
          durationMs: Date.now() - started,
          ...(error !== undefined ? { error } : {}),
        };
        const logObj = { client: `${client.address}:${client.port}`, file: req.file, bytes, durationMs: event.durationMs, outcome };
        if (outcome === 'complete') log.info(logObj, 'tftp transfer complete');
        else if (outcome === 'missing') log.info({ ...logObj, reason: error }, 'tftp file not found');
        else log.warn({ ...logObj, error }, 'tftp transfer failed');
        config.onTransfer?.(event);
        if (running.size === 0) idle?.();
      });
    });

    try {
      path = normaliseTftpPath(req.file);
    } catch (err) {
      fail('rejected', (err as Error).message, 'Access violation');
      return;
    }
    const treePath = path;
    const serve = (entry: BootTreeEntry): void => {
      if (outcome) return; // the watchdog gave up while the tree was working
      progress();
      if (entry.kind === 'missing') {
        fail('missing', entry.reason, 'File not found');
        return;
      }
      connectToClient(req._ps._writer, () => {
        if (outcome) return;
        send(entry);
      });
    };
    const send = (entry: BufferEntry | FileEntry): void => {
      const declared = entry.kind === 'buffer' ? entry.data.length : entry.size;
      size = declared;
      const sent = new ProgressCounter(progress);
      counter = sent;
      sent.on('end', () => {
        if (sent.bytes < declared) fail('failed', `${treePath}: got ${sent.bytes} of ${declared} bytes (file changed while being sent)`, 'I/O error');
      });
      res.setSize(declared);
      if (entry.kind === 'buffer') {
        sent.pipe(res);
        sent.end(entry.data);
      } else if (declared === 0) {
        sent.pipe(res);
        sent.end();
      } else {
        // end: size-1 keeps a file that grew since lookup from overrunning the announced size; 16 KiB reads keep
        // a stalled transfer's memory small (larger reads measured no faster, and 500 stalled clients cost more)
        const rs = createReadStream(entry.path, { start: 0, end: declared - 1, highWaterMark: 16 * 1024 });
        file = rs;
        rs.on('error', (err) => fail('failed', `${treePath}: ${err.message}`, 'I/O error'));
        rs.pipe(sent).pipe(res);
      }
    };
    // a tree that throws (even synchronously) or fails to render becomes a TFTP error, never a crash
    Promise.resolve()
      .then(() => config.tree.lookup(treePath, client))
      .then(serve)
      .catch((err: unknown) => fail('failed', `${treePath}: ${err instanceof Error ? err.message : String(err)}`, 'Error preparing file'));
  };

  const srv: TftpPackageServer = tftpPackage().createServer(
    {
      host: config.host,
      port: config.port,
      // the package stats this directory at listen(); our listener never serves from it
      root: tmpdir(),
      denyPUT: true,
      blockSize: config.blockSizeMax ?? 1468,
      windowSize: config.windowSizeMax ?? 16,
      timeout: timeoutMs,
      retries,
    },
    handle,
  );
  // the package maps port 0 to 69; binding reads this property, so restore the caller's choice
  srv.port = config.port;
  // the gate sees every datagram on the listening port before the package does
  const listener = srv._socket;
  const packageOnMessage = listener.listeners('message')[0] as (msg: Buffer, rinfo: RemoteInfo) => void;
  listener.removeAllListeners('message');
  listener.on('message', (msg: Buffer, rinfo: RemoteInfo) => {
    const verdict = gate.admit(msg, rinfo);
    if (verdict.kind === 'admit') packageOnMessage.call(listener, msg, rinfo);
    else if (verdict.kind === 'reply') listener.send(verdict.packet, rinfo.port, rinfo.address);
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => reject(bindError(err, config.host, config.port));
    srv.once('error', onError);
    srv.once('listening', () => {
      srv.off('error', onError);
      resolve();
    });
    srv.listen();
  });
  srv.on('error', (err: Error) => log.warn({ err: err.message }, 'tftp server socket error'));
  const port = listener.address().port;
  log.info({ host: config.host, port }, 'tftp listening');

  let closed: Promise<void> | undefined;
  return {
    host: config.host,
    port,
    counters: () => ({ ...counters, ...gate.counters }),
    close: (graceMs = 0) =>
      (closed ??= (async () => {
        await new Promise<void>((resolve) => {
          srv.once('close', () => resolve());
          srv.close();
        });
        if (running.size === 0) return;
        log.info({ transfers: running.size, graceMs }, 'tftp: waiting for transfers in flight');
        const allDone = new Promise<void>((resolve) => (idle = resolve));
        let timer: NodeJS.Timeout | undefined;
        const late = await Promise.race([allDone.then(() => false), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), graceMs)))]);
        clearTimeout(timer);
        if (!late) return;
        log.warn({ transfers: running.size }, 'tftp: shutdown grace over, aborting transfers in flight');
        for (const abort of running) abort('Server shutting down');
        await allDone;
      })()),
  };
}
