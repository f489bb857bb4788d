/**
 * An independent TFTP read client on raw UDP (RFC 1350/2347/2348/2349/7440), written for the tests so the
 * server is not tested against the package's own client. Hooks let a test misbehave on purpose.
 */
import dgram from 'node:dgram';

export interface RawGetOptions {
  host: string;
  port: number;
  file: string;
  blksize?: number;
  windowsize?: number;
  tsize?: boolean;
  /** Send every ACK twice (a client that re-ACKs: triggers the duplicate-ACK storm in stock tftp). */
  duplicateAcks?: boolean;
  /** Called once per new DATA block, with the server's transfer port and a way to send from the client's own port. */
  onBlock?: (block: number, serverPort: number, sendFromClient: (payload: Buffer) => void) => void | Promise<void>;
  /** Give up when nothing arrives for this long (after resending the last packet twice). */
  idleMs?: number;
  /** Resend the RRQ this many extra times, from the same port, before any answer (a client retrying). */
  rrqRepeats?: number;
  /** Asked for every DATA packet as it arrives: true drops it, as if the network lost it. */
  drop?: (block: number) => boolean;
  /** Extra options for the RRQ (e.g. timeout). */
  options?: Record<string, string | number>;
}

export interface RawGetResult {
  data: Buffer;
  /** DATA packets received, duplicates included. */
  dataPackets: number;
  oack?: Record<string, string>;
  error?: { code: number; message: string };
  timedOut: boolean;
}

export function buildRrq(file: string | Buffer, options: Record<string, string | number> = {}): Buffer {
  const parts: Buffer[] = [Buffer.from([0, 1]), typeof file === 'string' ? Buffer.from(file, 'latin1') : file, Buffer.from([0]), Buffer.from('octet\0')];
  for (const [k, v] of Object.entries(options)) parts.push(Buffer.from(`${k}\0${v}\0`));
  return Buffer.concat(parts);
}

export const ack = (block: number): Buffer => Buffer.from([0, 4, (block >> 8) & 0xff, block & 0xff]);

export function errorPacket(code: number, message: string): Buffer {
  return Buffer.concat([Buffer.from([0, 5, 0, code]), Buffer.from(`${message}\0`)]);
}

export function parseOack(msg: Buffer): Record<string, string> {
  const fields = msg.subarray(2).toString('latin1').split('\0');
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i]) out[fields[i] as string] = fields[i + 1] as string;
  return out;
}

export const parseError = (msg: Buffer): { code: number; message: string } => ({
  code: msg.readUInt16BE(2),
  message: msg.subarray(4).toString('latin1').replace(/\0.*$/s, ''),
});

/** Downloads one file; resolves with what happened (never rejects on protocol errors). */
export async function rawGet(opts: RawGetOptions): Promise<RawGetResult> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '0.0.0.0', r));
  const idleMs = opts.idleMs ?? 3000;
  const options: Record<string, string | number> = {};
  if (opts.blksize) options.blksize = opts.blksize;
  if (opts.windowsize) options.windowsize = opts.windowsize;
  if (opts.tsize) options.tsize = 0;
  Object.assign(options, opts.options);
  const rrq = buildRrq(opts.file, options);

  return new Promise<RawGetResult>((resolve) => {
    const chunks: Buffer[] = [];
    let blksize = 512;
    let windowsize = 1;
    let expected = 1; // next block number we need (16-bit wraps are handled by & 0xffff)
    let sinceAck = 0;
    let serverPort: number | undefined;
    let lastSent = rrq;
    let dataPackets = 0;
    let oack: Record<string, string> | undefined;
    let resends = 0;
    let done = false;
    let idle: NodeJS.Timeout;

    const finish = (extra: Partial<RawGetResult>): void => {
      if (done) return;
      done = true;
      clearTimeout(idle);
      sock.close();
      resolve({ data: Buffer.concat(chunks), dataPackets, oack, timedOut: false, ...extra });
    };
    const send = (buf: Buffer): void => {
      lastSent = buf;
      sock.send(buf, serverPort ?? opts.port, opts.host);
      if (opts.duplicateAcks && buf.readUInt16BE(0) === 4) sock.send(buf, serverPort ?? opts.port, opts.host);
    };
    const armIdle = (): void => {
      clearTimeout(idle);
      idle = setTimeout(() => {
        if (resends++ >= 2) return finish({ timedOut: true });
        send(lastSent);
        armIdle();
      }, idleMs);
    };

    sock.on('message', (msg, rinfo) => {
      if (done || msg.length < 4) return;
      if (serverPort === undefined) serverPort = rinfo.port;
      if (rinfo.port !== serverPort) return;
      resends = 0;
      armIdle();
      const op = msg.readUInt16BE(0);
      if (op === 6) {
        oack = parseOack(msg);
        if (oack.blksize) blksize = Number(oack.blksize);
        if (oack.windowsize) windowsize = Number(oack.windowsize);
        send(ack(0));
      } else if (op === 5) {
        finish({ error: parseError(msg) });
      } else if (op === 3) {
        dataPackets++;
        const block = msg.readUInt16BE(2);
        if (opts.drop?.(block)) return;
        if (block !== (expected & 0xffff)) {
          // out of order or duplicate: re-ACK the last block we have (RFC 7440 gap handling)
          if (block !== ((expected - 1) & 0xffff)) send(ack((expected - 1) & 0xffff));
          return;
        }
        const payload = msg.subarray(4);
        chunks.push(Buffer.from(payload));
        expected++;
        sinceAck++;
        const last = payload.length < blksize;
        const proceed = (): void => {
          if (last) {
            // close only once the final ACK has left, or the server never sees it and times out
            sock.send(ack(block), serverPort, opts.host, () => finish({}));
          } else if (sinceAck >= windowsize) {
            sinceAck = 0;
            send(ack(block));
          }
        };
        const hook = opts.onBlock?.(block, serverPort, (payload) => {
          if (!done) sock.send(payload, serverPort, opts.host);
        });
        if (hook instanceof Promise) void hook.then(proceed);
        else proceed();
      }
    });
    send(rrq);
    for (let i = 0; i < (opts.rrqRepeats ?? 0); i++) sock.send(rrq, opts.port, opts.host);
    armIdle();
  });
}

/** Sends one datagram from a fresh socket (a third party on the network). */
export async function sendFromStranger(host: string, port: number, payload: Buffer): Promise<void> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((resolve, reject) => s.send(payload, port, host, (err) => (err ? reject(err) : resolve())));
  s.close();
}
