/**
 * Admission for datagrams on the TFTP listening port: the gate parses each request once (with the `tftp`
 * package's codec), drops malformed datagrams without a socket or a reply, answers refusals from the
 * listening socket, ignores a retransmitted RRQ of a transfer already running, and caps transfers in flight
 * globally and per client address, so a flood or a client opening thousands of transfers stays bounded.
 */
import { parseRequest, type ParsedRequest } from './codec.js';

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
  | { kind: 'admit'; request: ParsedRequest }
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
  private readonly transfers = new Map<string, string>();
  private readonly perClient = new Map<string, number>();

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
    let request: ParsedRequest;
    try {
      request = parseRequest(msg);
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
      this.counters.busy++;
      return { kind: 'drop', reason: 'busy' };
    }
    this.transfers.set(tid, rinfo.address);
    this.perClient.set(rinfo.address, (this.perClient.get(rinfo.address) ?? 0) + 1);
    return { kind: 'admit', request };
  }

  /** The admitted transfer of this client TID ended: its slot is free. */
  ended(client: Rinfo): void {
    const tid = `${client.address}:${client.port}`;
    const address = this.transfers.get(tid);
    if (address === undefined) return;
    this.transfers.delete(tid);
    const n = (this.perClient.get(address) ?? 1) - 1;
    if (n > 0) this.perClient.set(address, n);
    else this.perClient.delete(address);
  }

  private malformed(): Verdict {
    this.counters.malformed++;
    return { kind: 'drop', reason: 'malformed' };
  }

  private reject(code: number, message: string): Verdict {
    this.counters.rejected++;
    return { kind: 'reply', packet: errorPacket(code, message) };
  }
}
