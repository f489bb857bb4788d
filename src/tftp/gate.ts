/**
 * Admission for datagrams on the TFTP listening port, in front of the `tftp` package. The package opens a
 * socket for every datagram it sees (even garbage, only to send an error from it) and starts every request it
 * can parse; the gate drops malformed datagrams without a socket or a reply, answers refusals from the
 * listening socket, ignores a retransmitted RRQ of a transfer already running, and caps transfers in flight
 * globally and per client address, so a flood or a client opening thousands of transfers stays bounded.
 */
import { requireTftp } from './vendor.js';

export interface GateLimits {
  /** Transfers in flight, all clients together. */
  maxTransfers: number;
  /** Transfers in flight from one IP address (firmware fetches a few files at a time, not hundreds). */
  maxTransfersPerClient: number;
}

export interface GateCounters {
  /** Datagrams received on the listening port. */
  datagrams: number;
  /** Not an RRQ/WRQ (too short, unknown opcode) or one cut short (a missing NUL): dropped without a reply. */
  malformed: number;
  /** Complete but refused with a TFTP error: WRQ, over 512 bytes, a file name, mode or option value refused. */
  rejected: number;
  /** RRQ retransmitted by a client whose transfer is already running: ignored. */
  duplicates: number;
  /** RRQ over the global or per-client cap: dropped without reply, so the client's retransmission retries. */
  busy: number;
}

export type Verdict =
  | { kind: 'admit' }
  | { kind: 'drop'; reason: 'malformed' | 'duplicate' | 'busy' }
  | { kind: 'reply'; packet: Buffer };

interface Rinfo {
  address: string;
  port: number;
}

interface PackageError {
  code: number;
  message: string;
}

const RRQ = 1;
const WRQ = 2;
/** The package's own bounds for a request: 2 op + 1 name + 5 "mail" + 2 NUL, at most one 512-byte datagram. */
const MIN_REQUEST = 9;
const MAX_REQUEST = 512;
/** An admitted request the package never handed over (it failed before the listener) stops counting after this. */
const PENDING_EXPIRY_MS = 10_000;

function errorPacket(code: number, message: string): Buffer {
  const b = Buffer.alloc(5 + Buffer.byteLength(message, 'latin1'));
  b.writeUInt16BE(5, 0);
  b.writeUInt16BE(code, 2);
  b.write(message, 4, 'latin1');
  return b;
}

/**
 * Errors of the package's request parser for a request that is complete but refused (name, mode, options),
 * and what the client is told. Anything else it throws means a truncated or garbled datagram.
 */
const REFUSALS = new Map<string, { code: number; message: string }>([
  ['Invalid filename', { code: 2, message: 'Access violation' }],
  ['Invalid transfer mode', { code: 4, message: 'Unknown transfer mode' }],
  ['The request has been denied', { code: 8, message: 'Option negotiation refused' }],
]);

export class RequestGate {
  readonly counters: GateCounters = { datagrams: 0, malformed: 0, rejected: 0, duplicates: 0, busy: 0 };
  /** Transfers admitted and not yet ended, by client TID (address:port). */
  private readonly transfers = new Map<string, { address: string; admittedAt: number; started: boolean }>();
  private readonly perClient = new Map<string, number>();
  private readonly parseRrq = (requireTftp('tftp/lib/protocol/packets') as { rrq: { deserialize(b: Buffer): unknown } }).rrq.deserialize;

  constructor(private readonly limits: GateLimits) {}

  get inFlight(): number {
    return this.transfers.size;
  }

  /** Decides what happens to one datagram on the listening port; an admitted request counts against the caps. */
  admit(msg: Buffer, rinfo: Rinfo): Verdict {
    this.counters.datagrams++;
    if (msg.length < MIN_REQUEST) return this.malformed();
    const op = msg.readUInt16BE(0);
    if (op !== RRQ && op !== WRQ) return this.malformed();
    if (msg.length > MAX_REQUEST) return this.reject(4, 'Request longer than 512 bytes');
    try {
      this.parseRrq(msg);
    } catch (err) {
      const refusal = REFUSALS.get((err as PackageError).message);
      return refusal ? this.reject(refusal.code, refusal.message) : this.malformed();
    }
    if (op === WRQ) return this.reject(2, 'Cannot PUT files');
    const tid = `${rinfo.address}:${rinfo.port}`;
    if (this.transfers.has(tid)) {
      this.counters.duplicates++;
      return { kind: 'drop', reason: 'duplicate' };
    }
    if (this.transfers.size >= this.limits.maxTransfers || (this.perClient.get(rinfo.address) ?? 0) >= this.limits.maxTransfersPerClient) {
      this.expirePending();
      if (this.transfers.size >= this.limits.maxTransfers || (this.perClient.get(rinfo.address) ?? 0) >= this.limits.maxTransfersPerClient) {
        this.counters.busy++;
        return { kind: 'drop', reason: 'busy' };
      }
    }
    this.transfers.set(tid, { address: rinfo.address, admittedAt: Date.now(), started: false });
    this.perClient.set(rinfo.address, (this.perClient.get(rinfo.address) ?? 0) + 1);
    return { kind: 'admit' };
  }

  /** The package handed the request to the listener: it now ends through `ended`, never by expiry. */
  started(client: Rinfo): void {
    const entry = this.transfers.get(`${client.address}:${client.port}`);
    if (entry) entry.started = true;
  }

  ended(client: Rinfo): void {
    this.release(`${client.address}:${client.port}`);
  }

  private release(tid: string): void {
    const entry = this.transfers.get(tid);
    if (!entry) return;
    this.transfers.delete(tid);
    const n = (this.perClient.get(entry.address) ?? 1) - 1;
    if (n > 0) this.perClient.set(entry.address, n);
    else this.perClient.delete(entry.address);
  }

  private malformed(): Verdict {
    this.counters.malformed++;
    return { kind: 'drop', reason: 'malformed' };
  }

  private reject(code: number, message: string): Verdict {
    this.counters.rejected++;
    return { kind: 'reply', packet: errorPacket(code, message) };
  }

  private expirePending(): void {
    const cutoff = Date.now() - PENDING_EXPIRY_MS;
    for (const [tid, e] of this.transfers) if (!e.started && e.admittedAt < cutoff) this.release(tid);
  }
}
