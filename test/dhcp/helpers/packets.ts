/**
 * An independent DHCPv4 packet builder and parser for tests, written from RFC 2131/2132 and sharing no code
 * with src/dhcp/codec.ts, so the codec and server are checked against a second implementation.
 */
export const DISCOVER = 1;
export const OFFER = 2;
export const REQUEST = 3;
export const DECLINE = 4;
export const ACK = 5;
export const NAK = 6;
export const RELEASE = 7;
export const INFORM = 8;

export interface BuildOptions {
  type: number;
  mac: string;
  xid?: number;
  ciaddr?: string;
  giaddr?: string;
  flags?: number;
  hops?: number;
  /** Extra options in wire order: [code, bytes]. */
  options?: Array<[number, Buffer | number[] | string]>;
}

const ip = (s: string): number[] => s.split('.').map(Number);

export function ipBytes(s: string): Buffer {
  return Buffer.from(ip(s));
}

export function build(o: BuildOptions): Buffer {
  const b = Buffer.alloc(240);
  b[0] = 1;
  b[1] = 1;
  b[2] = 6;
  b[3] = o.hops ?? 0;
  b.writeUInt32BE(o.xid ?? Math.floor(Math.random() * 0xffffffff), 4);
  b.writeUInt16BE(o.flags ?? 0, 10);
  Buffer.from(ip(o.ciaddr ?? '0.0.0.0')).copy(b, 12);
  Buffer.from(ip(o.giaddr ?? '0.0.0.0')).copy(b, 24);
  Buffer.from(o.mac.split(':').map((h) => parseInt(h, 16))).copy(b, 28);
  b.writeUInt32BE(0x63825363, 236);
  const opts: number[] = [53, 1, o.type];
  for (const [code, v] of o.options ?? []) {
    const bytes = typeof v === 'string' ? [...Buffer.from(v, 'latin1')] : [...v];
    opts.push(code, bytes.length, ...bytes);
  }
  opts.push(255);
  const out = Buffer.concat([b, Buffer.from(opts)]);
  return out.length >= 300 ? out : Buffer.concat([out, Buffer.alloc(300 - out.length)]);
}

export interface Parsed {
  op: number;
  xid: number;
  flags: number;
  ciaddr: string;
  yiaddr: string;
  siaddr: string;
  giaddr: string;
  mac: string;
  sname: string;
  file: string;
  length: number;
  /** Options in wire order. */
  order: number[];
  opts: Map<number, Buffer>;
  type: number;
}

const ipStr = (b: Buffer, at: number): string => [...b.subarray(at, at + 4)].join('.');
const cstr = (b: Buffer): string => {
  const z = b.indexOf(0);
  return b.subarray(0, z < 0 ? b.length : z).toString('latin1');
};

export function parse(b: Buffer): Parsed {
  if (b.length < 240 || b.readUInt32BE(236) !== 0x63825363) throw new Error('not a DHCP packet');
  const opts = new Map<number, Buffer>();
  const order: number[] = [];
  let i = 240;
  while (i < b.length) {
    const code = b[i++];
    if (code === 0) continue;
    if (code === 255) break;
    const len = b[i++];
    opts.set(code, b.subarray(i, i + len));
    order.push(code);
    i += len;
  }
  return {
    op: b[0],
    xid: b.readUInt32BE(4),
    flags: b.readUInt16BE(10),
    ciaddr: ipStr(b, 12),
    yiaddr: ipStr(b, 16),
    siaddr: ipStr(b, 20),
    giaddr: ipStr(b, 24),
    mac: [...b.subarray(28, 34)].map((x) => x.toString(16).padStart(2, '0')).join(':'),
    sname: cstr(b.subarray(44, 108)),
    file: cstr(b.subarray(108, 236)),
    length: b.length,
    order,
    opts,
    type: opts.get(53)?.[0] ?? 0,
  };
}

export const optIp = (p: Parsed, code: number): string | undefined => {
  const v = p.opts.get(code);
  return v ? ipStr(v, 0) : undefined;
};
export const optU32 = (p: Parsed, code: number): number | undefined => p.opts.get(code)?.readUInt32BE(0);
export const optText = (p: Parsed, code: number): string | undefined => p.opts.get(code)?.toString('latin1');
