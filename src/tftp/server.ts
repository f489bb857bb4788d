/**
 * Farrier's read-only TFTP server: our own listening socket behind the request gate, and one transfer loop
 * per request (transfer.ts; the `tftp` package is only the packet codec). Every file comes from a BootTree
 * (rendered Buffers or files on disk, always with an exact size; small files through the shared file cache);
 * each transfer is reported once through onTransfer and counted; a watchdog frees transfers that stop making
 * progress.
 */
import dgram, { type RemoteInfo } from 'node:dgram';
import { isIP } from 'node:net';
import { FarrierError } from '../errors.js';
import { BufferSource, FileSource, type BlockSource } from './blockSource.js';
import type { ParsedRequest } from './codec.js';
import { FileCache, type FileCacheLimits } from './fileCache.js';
import { RequestGate, type GateCounters } from './gate.js';
import { negotiate, requestedTimeout, type Negotiated, type OptionLimits } from './options.js';
import { normaliseTftpPath } from './paths.js';
import type { BootTree, BootTreeEntry, TftpClient } from './ports.js';
import { Transfer, type TransferEnd } from './transfer.js';

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
  /** IP literal to bind (no name resolution). */
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
  /** Small files kept in memory for every client (default: files up to 4 MiB, 64 MiB in all). */
  fileCache?: FileCacheLimits;
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

const DEFAULT_FILE_CACHE: FileCacheLimits = { maxFileBytes: 4 * 1024 * 1024, maxTotalBytes: 64 * 1024 * 1024 };
const EMPTY = Buffer.alloc(0);

/** A transfer in flight, as the watchdog and close() see it. */
interface Running {
  /** Bumped on every step forward (tree answered, ACK accepted); the watchdog samples it. */
  ticks: number;
  seenTicks: number;
  lastProgress: number;
  fail(outcome: TransferOutcome, message: string, clientMessage?: string): void;
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

/**
 * Where a found entry's bytes come from: the Buffer itself (rendered, or a file the tree keeps in memory),
 * the file cache, or the file read ahead in chunks.
 */
async function openSource(entry: Exclude<BootTreeEntry, { kind: 'missing' }>, cache: FileCache, negotiated: Negotiated, onError: (message: string) => void): Promise<BlockSource> {
  if (entry.kind === 'buffer') return new BufferSource(entry.data);
  if (entry.size === 0) return new BufferSource(EMPTY);
  if (entry.data && entry.data.length >= entry.size) return new BufferSource(entry.data.subarray(0, entry.size));
  const version = entry.mtimeMs !== undefined && entry.ino !== undefined ? { mtimeMs: entry.mtimeMs, ino: entry.ino } : undefined;
  const cached = await cache.get(entry.path, entry.size, version);
  return cached ? new BufferSource(cached) : new FileSource(entry.path, entry.size, negotiated.blockSize, negotiated.windowSize, onError);
}

export async function startTftpServer(config: TftpServerConfig): Promise<TftpServer> {
  const log = config.logger ?? quietLogger;
  const family = isIP(config.host) === 6 ? 'udp6' : 'udp4';
  if (isIP(config.host) === 0) throw new FarrierError('VALIDATION', `TFTP host must be an IP address, not ${JSON.stringify(config.host)}`);
  // T7: transfers answer from the address the server listens on, when it listens on one
  const localAddress = config.host === '0.0.0.0' || config.host === '::' ? undefined : config.host;
  const timeoutMs = config.timeoutMs ?? 1000;
  const retries = config.retries ?? 5;
  const stallTimeoutMs = config.stallTimeoutMs ?? Math.max(10_000, timeoutMs * (retries + 2));
  const limits: OptionLimits = { blockSizeMax: config.blockSizeMax ?? 1468, windowSizeMax: config.windowSizeMax ?? 16, timeoutMs, stallTimeoutMs };
  const counters = { requests: 0, complete: 0, missing: 0, failed: 0, bytesSent: 0, active: 0, strays: 0 };
  const gate = new RequestGate({ maxTransfers: config.maxTransfers ?? 1000, maxTransfersPerClient: config.maxTransfersPerClient ?? 64 });
  const cache = new FileCache(config.fileCache ?? DEFAULT_FILE_CACHE);
  const running = new Set<Running>();
  /** Resolved by the last transfer to end while close() waits. */
  let idle: (() => void) | undefined;
  let watchdog: NodeJS.Timeout | undefined;

  const checkStalls = (): void => {
    const now = Date.now();
    for (const r of running) {
      if (r.ticks !== r.seenTicks) {
        r.seenTicks = r.ticks;
        r.lastProgress = now;
      } else if (now - r.lastProgress >= stallTimeoutMs) r.fail('stalled', `no progress for ${stallTimeoutMs} ms`, 'Transfer timed out');
    }
  };

  const start = (request: ParsedRequest, msg: Buffer, rinfo: RemoteInfo): void => {
    const started = Date.now();
    const client: TftpClient = { address: rinfo.address, port: rinfo.port };
    const negotiated = negotiate(request, requestedTimeout(msg), limits);
    counters.requests++;
    counters.active++;
    let path: string | undefined;
    let size: number | undefined;
    let outcome: TransferOutcome | undefined;
    let error: string | undefined;

    const ended = (result: TransferEnd): void => {
      running.delete(self);
      gate.ended(client);
      counters.active--;
      const bytes = transfer.bytesSent;
      counters.bytesSent += bytes;
      if (!outcome) {
        if (result.kind === 'complete') outcome = 'complete';
        else if (result.kind === 'timed-out') {
          outcome = 'timed-out';
          error = 'Timed out';
        } else if (result.kind === 'client-error' || result.kind === 'socket-error') {
          // a socket that reached the client and then failed: the client's port is gone (ICMP unreachable)
          outcome = result.kind === 'socket-error' && !result.connected ? 'failed' : 'aborted-by-client';
          error = result.message;
        } else outcome = 'failed';
      }
      if (outcome === 'complete') counters.complete++;
      else if (outcome === 'missing') counters.missing++;
      else counters.failed++;
      const event: TransferEvent = {
        file: request.file,
        path,
        client,
        outcome,
        bytes,
        size,
        blockSize: negotiated.blockSize,
        windowSize: negotiated.windowSize,
        durationMs: Date.now() - started,
        ...(error !== undefined ? { error } : {}),
      };
      const logObj = { client: `${client.address}:${client.port}`, file: request.file, bytes, durationMs: event.durationMs, outcome };
      if (outcome === 'complete') log.info(logObj, 'tftp transfer complete');
      else if (outcome === 'missing') log.info({ ...logObj, reason: error }, 'tftp file not found');
      else log.warn({ ...logObj, error }, 'tftp transfer failed');
      config.onTransfer?.(event);
      if (running.size === 0) {
        clearInterval(watchdog);
        watchdog = undefined;
        idle?.();
      }
    };
    const transfer = new Transfer(
      { client, localAddress, family, negotiated, retries },
      { progress: () => self.ticks++, stray: () => counters.strays++, end: ended },
    );
    const self: Running = {
      ticks: 0,
      seenTicks: 0,
      lastProgress: started,
      fail: (o, message, clientMessage = message) => {
        if (outcome) return;
        outcome = o;
        error = message;
        transfer.abort(clientMessage);
      },
    };
    running.add(self);
    watchdog ??= setInterval(checkStalls, Math.min(1000, stallTimeoutMs));

    let treePath: string;
    try {
      treePath = normaliseTftpPath(request.file);
    } catch (err) {
      self.fail('rejected', (err as Error).message, 'Access violation');
      return;
    }
    path = treePath;
    // a tree that throws (even synchronously) or fails to render becomes a TFTP error, never a crash
    Promise.resolve()
      .then(() => config.tree.lookup(treePath, client))
      .then(async (entry) => {
        if (outcome) return; // the watchdog gave up while the tree was working
        self.ticks++;
        if (entry.kind === 'missing') {
          self.fail('missing', entry.reason, 'File not found');
          return;
        }
        size = entry.kind === 'buffer' ? entry.data.length : entry.size;
        const unreadable = (message: string): void => self.fail('failed', `${treePath}: ${message}`, 'I/O error');
        const [source, connected] = await Promise.all([openSource(entry, cache, negotiated, unreadable), transfer.ready]);
        if (outcome || !connected) {
          source.close();
          return;
        }
        transfer.serve(source);
      })
      .catch((err: unknown) => self.fail('failed', `${treePath}: ${err instanceof Error ? err.message : String(err)}`, 'Error preparing file'));
  };

  const listener = dgram.createSocket(family);
  // the gate sees every datagram on the listening port first
  listener.on('message', (msg: Buffer, rinfo: RemoteInfo) => {
    const verdict = gate.admit(msg, rinfo);
    if (verdict.kind === 'admit') start(verdict.request, msg, rinfo);
    else if (verdict.kind === 'reply') listener.send(verdict.packet, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      listener.close();
      reject(bindError(err, config.host, config.port));
    };
    listener.once('error', onError);
    listener.bind(config.port, config.host, () => {
      listener.off('error', onError);
      resolve();
    });
  });
  listener.on('error', (err: Error) => log.warn({ err: err.message }, 'tftp server socket error'));
  const port = listener.address().port;
  log.info({ host: config.host, port }, 'tftp listening');

  let closed: Promise<void> | undefined;
  return {
    host: config.host,
    port,
    counters: () => ({ ...counters, ...gate.counters }),
    close: (graceMs = 0) =>
      (closed ??= (async () => {
        await new Promise<void>((resolve) => listener.close(() => resolve()));
        if (running.size === 0) return;
        log.info({ transfers: running.size, graceMs }, 'tftp: waiting for transfers in flight');
        const allDone = new Promise<void>((resolve) => (idle = resolve));
        let timer: NodeJS.Timeout | undefined;
        const late = await Promise.race([allDone.then(() => false), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), graceMs)))]);
        clearTimeout(timer);
        if (!late) return;
        log.warn({ transfers: running.size }, 'tftp: shutdown grace over, aborting transfers in flight');
        for (const r of running) r.fail('failed', 'Server shutting down');
        await allDone;
      })()),
  };
}
