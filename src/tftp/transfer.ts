/**
 * One read transfer, on Farrier's own loop (the `tftp` package is used only as a packet codec): a socket of
 * its own (the transfer ID) connected to the client, the OACK if options were negotiated, then DATA blocks
 * in windows of `windowSize` (RFC 7440; 1 = RFC 1350 lockstep), block numbers rolling over from 65535 to 0,
 * one retransmission timer refreshed on every send, and an end once the last (short or empty) block is
 * acknowledged. Each DATA packet is a 4-byte header and a slice of the source sent together: no copy.
 *
 * Robustness bugs the `tftp` package had, and how this loop keeps clear of them (test/tftp/hardening.test.ts):
 *  T1 a datagram shorter than 4 bytes on a transfer port crashed the process: it is counted as a stray;
 *  T2 packets from any address/port were accepted, so a foreign ERROR could abort a transfer: the socket is
 *     connected to the client (the kernel drops other sources) and the source is checked again here;
 *  T3 a duplicate ACK of the previous window re-sent the window (an ACK storm): old ACKs are ignored, only the
 *     timer retransmits;
 *  T4 an ACK while no window was outstanding crashed the writer: ACKs before the OACK's ACK 0 or after the end
 *     are ignored;
 *  T6 an ACK for a block outside a window that wraps past 65535 read past the window: ACK numbers are mapped
 *     into the window (base-1 … next-1, modulo 65536) and anything else is ignored;
 *  T7 transfer sockets bound to the wildcard address could answer from another address than the one the RRQ
 *     went to: a server bound to one address binds its transfer sockets to it too.
 * T5 (a request nobody answers never times out) is the stall watchdog in server.ts.
 */
import dgram from 'node:dgram';
import type { BlockSource } from './blockSource.js';
import { errorPacket, oackPacket, parseErrorMessage } from './codec.js';
import type { Negotiated } from './options.js';
import type { TftpClient } from './ports.js';

const DATA = 3;
const ACK = 4;
const ERROR = 5;
/**
 * Errors a connected UDP socket reports when an ICMP error came back for something it sent. A client that
 * finished and closed its port while a retransmission was on its way causes one even though its last ACK is
 * still waiting to be read, so they end the transfer only if no ACK follows before the next timeout.
 */
const UNREACHABLE = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN']);

export interface TransferParams {
  client: TftpClient;
  /** The server's own address when it listens on one (T7); undefined for the wildcard address. */
  localAddress: string | undefined;
  family: 'udp4' | 'udp6';
  negotiated: Negotiated;
  /** Retransmissions of one window (or the OACK) before giving up. */
  retries: number;
}

export type TransferEnd =
  | { kind: 'complete' }
  | { kind: 'timed-out' }
  | { kind: 'client-error'; message: string }
  /** The socket failed; `connected` says whether it had reached the client (else: bind/connect failed). */
  | { kind: 'socket-error'; message: string; connected: boolean }
  | { kind: 'aborted' };

export interface TransferHooks {
  /** An ACK moved the transfer forward. */
  progress(): void;
  /** A datagram ignored: too short, or from another address/port than the client's. */
  stray(): void;
  /** Called exactly once. */
  end(result: TransferEnd): void;
}

export class Transfer {
  /** Bytes sent in DATA packets at least once (the end of the furthest block sent). */
  bytesSent = 0;
  /** Resolves once the socket is connected to the client (true), or failed (false); nothing is sent before. */
  readonly ready: Promise<boolean>;
  private readonly socket: dgram.Socket;
  private readonly client: TftpClient;
  private readonly blockSize: number;
  private readonly windowSize: number;
  private connected = false;
  private ended = false;
  private phase: 'setup' | 'oack' | 'data' = 'setup';
  private source: BlockSource | undefined;
  private oack: Buffer | undefined;
  /** Absolute block numbers (1-based, never wrapped): first unacknowledged, next to send, last of the file. */
  private base = 1;
  private next = 1;
  private last = 1;
  private timer: NodeJS.Timeout | undefined;
  private retriesLeft: number;
  /** An ICMP error reported since the last ACK (see UNREACHABLE). */
  private unreachable: string | undefined;

  constructor(
    private readonly params: TransferParams,
    private readonly hooks: TransferHooks,
  ) {
    this.client = params.client;
    this.blockSize = params.negotiated.blockSize;
    this.windowSize = params.negotiated.windowSize;
    this.retriesLeft = params.retries;
    this.socket = dgram.createSocket(params.family);
    this.socket.on('message', this.onMessage);
    this.ready = new Promise<boolean>((resolve) => {
      this.socket.on('error', (err: NodeJS.ErrnoException) => {
        if (this.connected && UNREACHABLE.has(err.code ?? '')) {
          this.unreachable = err.message;
          return;
        }
        resolve(false);
        this.finish({ kind: 'socket-error', message: err.message, connected: this.connected });
      });
      this.socket.bind(0, params.localAddress, () => {
        // connected before the first packet: sends carry no address, and no datagram from elsewhere gets through
        this.socket.connect(this.client.port, this.client.address, () => {
          this.connected = true;
          resolve(true);
        });
      });
    });
  }

  /** Starts sending `source` (call after `ready` resolved true): the OACK first if options were negotiated. */
  serve(source: BlockSource): void {
    if (this.ended) {
      source.close();
      return;
    }
    this.source = source;
    this.last = Math.floor(source.size / this.blockSize) + 1;
    source.onReady = () => {
      if (!this.ended && this.phase === 'data') this.pump();
    };
    this.timer = setTimeout(this.onTimeout, this.params.negotiated.timeoutMs);
    const oack = this.params.negotiated.oack;
    if (oack) {
      if (oack.tsize !== undefined) oack.tsize = source.size;
      this.oack = oackPacket(oack);
      this.phase = 'oack';
      this.socket.send(this.oack);
    } else {
      this.phase = 'data';
      this.pump();
    }
  }

  /** Ends the transfer with an ERROR packet to the client (sent once the socket is connected). */
  abort(message: string): void {
    if (this.ended) return;
    const socket = this.socket;
    const packet = errorPacket(message);
    this.finish({ kind: 'aborted' }, false);
    void this.ready.then((ok) => {
      if (ok) socket.send(packet, () => socket.close());
      else socket.close();
    });
  }

  private finish(result: TransferEnd, closeSocket = true): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.timer);
    this.source?.close();
    if (closeSocket) this.socket.close();
    this.hooks.end(result);
  }

  private readonly onMessage = (msg: Buffer, rinfo: dgram.RemoteInfo): void => {
    if (msg.length < 4 || rinfo.port !== this.client.port || rinfo.address !== this.client.address) {
      this.hooks.stray(); // T1, T2
      return;
    }
    if (this.ended || this.phase === 'setup') return; // T4: nothing sent yet, or over
    const op = msg.readUInt16BE(0);
    if (op === ACK) this.onAck(msg.readUInt16BE(2));
    else if (op === ERROR) {
      let message: string;
      try {
        message = parseErrorMessage(msg);
      } catch (err) {
        message = (err as Error).message;
      }
      this.finish({ kind: 'client-error', message });
    } else {
      // RFC 1350: anything but ACK or ERROR from the client during a read is an illegal operation
      const message = 'Illegal TFTP operation';
      this.abortWith(message);
    }
  };

  private abortWith(message: string): void {
    const socket = this.socket;
    this.finish({ kind: 'client-error', message }, false);
    socket.send(errorPacket(message), () => socket.close());
  }

  private onAck(block: number): void {
    if (this.phase === 'oack') {
      if (block !== 0) return;
      this.phase = 'data';
      this.retriesLeft = this.params.retries;
      this.unreachable = undefined;
      this.hooks.progress();
      this.pump();
      return;
    }
    if (this.phase !== 'data') return; // T4
    // which of base-1 … next-1 this 16-bit number is; 0 = the ACK before this window (duplicate, T3)
    const delta = (block - ((this.base - 1) & 0xffff)) & 0xffff;
    if (delta === 0 || delta > this.next - this.base) return; // T3, T6
    const acked = this.base - 1 + delta;
    this.hooks.progress();
    this.unreachable = undefined;
    this.retriesLeft = this.params.retries;
    if (acked === this.last) {
      this.finish({ kind: 'complete' });
      return;
    }
    // RFC 7440: the next window starts after the acknowledged block (a client that saw a gap ACKs before it)
    this.base = this.next = acked + 1;
    (this.source as BlockSource).release(acked * this.blockSize);
    this.pump();
  }

  /** Sends the window's blocks not sent yet, as far as the source has them in memory. */
  private pump(): void {
    const source = this.source as BlockSource;
    const end = Math.min(this.base + this.windowSize - 1, this.last);
    let sent = false;
    while (this.next <= end) {
      const offset = (this.next - 1) * this.blockSize;
      const length = Math.min(this.blockSize, source.size - offset);
      const header = Buffer.allocUnsafe(4);
      header[0] = 0;
      header[1] = DATA;
      header[2] = (this.next >>> 8) & 0xff;
      header[3] = this.next & 0xff;
      if (length > 0) {
        const data = source.slice(offset, length);
        if (!data) break; // being read: onReady resumes
        this.socket.send([header, data]);
        if (offset + length > this.bytesSent) this.bytesSent = offset + length;
      } else {
        this.socket.send(header); // the empty last block of a file whose size is a multiple of blksize
      }
      this.next++;
      sent = true;
    }
    if (sent) this.timer?.refresh();
  }

  private readonly onTimeout = (): void => {
    if (this.ended) return;
    if (this.unreachable !== undefined) {
      this.finish({ kind: 'socket-error', message: this.unreachable, connected: true });
      return;
    }
    if (this.retriesLeft === 0) {
      this.finish({ kind: 'timed-out' });
      return;
    }
    this.retriesLeft--;
    if (this.phase === 'oack') this.socket.send(this.oack as Buffer);
    else {
      this.next = this.base;
      this.pump();
    }
    this.timer?.refresh();
  };
}
