/**
 * DHCPv4 packet codec: the pinned `dhcp@0.2.20` parse/format, made safe and complete for PXE.
 *
 * That package's server is unusable (see docs/dhcp.md), but its codec is sound once fixed. This module is the
 * one place the fixes live:
 * - the option decoder is replaced: a Pad (0) is one byte (the original skips two and desyncs), every option is
 *   read within its declared length (a malformed option throws instead of eating its neighbours), a typed
 *   option must have a length its type allows, repeated options are concatenated (RFC 3396), option overload
 *   (52) is followed into `file` and `sname`, unknown options are kept as raw bytes instead of being dropped
 *   with a console line;
 * - options it does not know or mis-types are (re)registered: 77, 82, 93, 94, 97, 175 added; 61, 119, 121, 249
 *   kept as raw bytes (their wire formats are not strings or plain IP lists);
 * - replies are encoded with options in the client's PRL order and padded to the 300-byte BOOTP minimum.
 */
import protocol from 'dhcp/lib/protocol.js';
import optionRegistry from 'dhcp/lib/options.js';
import SeqBuffer from 'dhcp/lib/seqbuffer.js';

const registry = optionRegistry.opts;

for (const [code, name] of [
  [77, 'User Class'],
  [82, 'Relay Agent Information'],
  [94, 'Client Network Device Interface'],
  [97, 'Client Machine Identifier'],
  [175, 'iPXE Encapsulated Options'],
  [61, 'Client Identifier'],
  [119, 'Domain Search'],
  [121, 'Classless Static Route'],
  [249, 'Microsoft Classless Static Route'],
] as const) {
  optionRegistry.addOption(code, { name, type: 'UInt8s' });
}
optionRegistry.addOption(93, { name: 'Client System Architecture', type: 'UInt16s' });

type Reader = Record<string, (len: number) => unknown>;

/**
 * Replaces the package's decoder (see the module comment for what it fixes): collects every option's raw
 * bytes, instances of one code concatenated in order (RFC 3396); decode() types them.
 */
SeqBuffer.prototype.getOptions = function getOptions(this: SeqBuffer): Record<number, unknown> {
  const out = new Map<number, Buffer[]>();
  this._r = walkOptions(this._data, this._r, this._data.length, out);
  // The Map goes through protocol.parse untouched (it only stores it); decode() reads it back as a Map.
  return out as unknown as Record<number, unknown>;
};

/** Reads options from buf[from, to) into `out` until End or the end of the area; returns where it stopped. */
function walkOptions(buf: Buffer, from: number, to: number, out: Map<number, Buffer[]>): number {
  let r = from;
  while (r < to) {
    const code = buf[r++]!;
    if (code === 255) break;
    if (code === 0) continue;
    if (r >= to) throw new RangeError('truncated option');
    const len = buf[r++]!;
    if (r + len > to) throw new RangeError(`option ${code} overruns its field`);
    const parts = out.get(code) ?? [];
    parts.push(buf.subarray(r, r + len));
    out.set(code, parts);
    r += len;
  }
  return r;
}

/** Lengths each registry type allows: exact sizes, or a multiple of an element size (0 allowed). */
const FIXED: Record<string, number> = { IP: 4, UInt8: 1, Int8: 1, UInt16: 2, Int16: 2, UInt32: 4, Int32: 4 };
const MULTIPLE: Record<string, number> = { IPs: 4, UInt16s: 2 };

/**
 * Whether an option body of `len` bytes fits its code's registered type. Typed options that do not fit are
 * malformed (the packet is dropped) rather than read partially; untyped and text options take any length.
 */
export function optionLengthFits(code: number, len: number): boolean {
  const type = registry[code]?.type;
  if (type === undefined) return true;
  if (FIXED[type] !== undefined) return len === FIXED[type];
  if (MULTIPLE[type] !== undefined) return len % MULTIPLE[type] === 0;
  return true;
}

function typed(code: number, body: Buffer): unknown {
  const def = registry[code];
  if (!optionLengthFits(code, body.length)) throw new RangeError(`option ${code}: ${body.length} bytes do not fit ${def?.type}`);
  if (!def?.type || def.type === 'UInt8s') return Buffer.from(body);
  const reader = new SeqBuffer(body) as unknown as Reader;
  return reader['get' + def.type](body.length);
}

const SNAME = [44, 108] as const;
const FILE = [108, 236] as const;

export const MessageType = {
  DISCOVER: 1,
  OFFER: 2,
  REQUEST: 3,
  DECLINE: 4,
  ACK: 5,
  NAK: 6,
  RELEASE: 7,
  INFORM: 8,
} as const;

export const messageTypeName: Record<number, string> = {
  1: 'discover',
  2: 'offer',
  3: 'request',
  4: 'decline',
  5: 'ack',
  6: 'nak',
  7: 'release',
  8: 'inform',
};

/** A decoded DHCP message. `options` holds the codec's typed values; raw-byte options are Buffers. */
export interface DhcpPacket {
  op: number;
  htype: number;
  hlen: number;
  hops: number;
  xid: number;
  secs: number;
  flags: number;
  ciaddr: string;
  yiaddr: string;
  siaddr: string;
  giaddr: string;
  /** Lower-case colon form aa:bb:cc:dd:ee:ff. */
  chaddr: string;
  sname: string;
  file: string;
  options: Record<number, unknown>;
}

/**
 * Decode a datagram; throws on anything malformed (callers count and drop): shorter than the fixed header,
 * bad magic cookie, a hardware address other than Ethernet's, an option overrunning its field, a typed option
 * whose length does not fit. Option overload (52) is honoured: options continue in `file` (1 or 3), then
 * `sname` (2 or 3), and those fields then carry no names.
 */
export function decode(buf: Buffer): DhcpPacket {
  // The cheap checks first: a flood of garbage is mostly rejected here, before any string is built.
  if (buf.length < 240) throw new RangeError('shorter than the DHCP header');
  if (buf.readUInt32BE(236) !== 0x63825363) throw new Error('bad magic cookie');
  if (buf[1] !== 1 || buf[2] !== 6) throw new Error(`not an Ethernet hardware address (type ${buf[1]}, length ${buf[2]})`);
  const p = protocol.parse(buf);
  const raw = p.options as unknown as Map<number, Buffer[]>;
  let { sname, file } = p;
  const overload = raw.get(52);
  if (overload) {
    const mode = Buffer.concat(overload);
    if (mode.length !== 1 || mode[0]! < 1 || mode[0]! > 3) throw new RangeError('bad option overload (52)');
    if (mode[0] !== 2) {
      walkOptions(buf, FILE[0], FILE[1], raw);
      file = '';
    }
    if (mode[0] !== 1) {
      walkOptions(buf, SNAME[0], SNAME[1], raw);
      sname = '';
    }
  }
  const options: Record<number, unknown> = {};
  for (const [code, parts] of raw) options[code] = typed(code, parts.length === 1 ? parts[0]! : Buffer.concat(parts));
  return {
    op: p.op,
    htype: p.htype,
    hlen: p.hlen,
    hops: p.hops,
    xid: p.xid,
    secs: p.secs,
    flags: p.flags,
    ciaddr: p.ciaddr,
    yiaddr: p.yiaddr,
    siaddr: p.siaddr,
    giaddr: p.giaddr,
    chaddr: p.chaddr.toLowerCase().replace(/-/g, ':'),
    sname,
    file,
    options,
  };
}

/** One reply option: raw bytes, or a value typed as the codec's registry says for this code. */
export type OptionValue = Buffer | string | number | string[] | number[] | boolean;

export interface ReplyPacket extends Omit<DhcpPacket, 'options'> {
  /** In wire order: the caller orders them (53 and 54 first, then by the client's PRL). */
  options: Array<[number, OptionValue]>;
}

const MIN_BOOTP = 300;

/** Encode a reply: BOOTP header through the package's formatter, then our ordered options, End, padding. */
export function encode(reply: ReplyPacket): Buffer {
  const sb = protocol.format({ ...reply, options: {} });
  // format() ends the empty option list with End (255): back up over it and append our options in order.
  const w = sb as unknown as SeqBuffer;
  w._w -= 1;
  for (const [code, value] of reply.options) {
    if (Buffer.isBuffer(value)) {
      // Longer than one option can hold (an echoed 82 that arrived in several parts): split per RFC 3396.
      for (let at = 0; at === 0 || at < value.length; at += 255) {
        const part = value.subarray(at, at + 255);
        if (w._w + 3 + part.length > w._data.length) throw new RangeError('reply larger than 1500 bytes');
        w._data[w._w++] = code;
        w._data[w._w++] = part.length;
        part.copy(w._data, w._w);
        w._w += part.length;
      }
    } else {
      if (!registry[code]) throw new Error(`option ${code} has no known type; send it as raw bytes`);
      w.addOptions({ [code]: value });
    }
  }
  w._data[w._w++] = 255;
  // The formatter's buffer is zero-filled, so padding to the BOOTP minimum is just a longer slice.
  return Buffer.from(w._data.subarray(0, Math.max(w._w, MIN_BOOTP)));
}

/**
 * Turn an operator's option value (a string from a subnet/reservation) into what the encoder takes for this
 * code: IP lists split on commas, integers parsed, raw-byte options from hex (`0a0b0c` or `0a:0b:0c`).
 * Throws on a value that does not fit the type.
 */
export function optionFromString(code: number, text: string): OptionValue {
  const type = registry[code]?.type;
  const t = text.trim();
  switch (type) {
    case 'IP':
      return t;
    case 'IPs':
      return t.split(/[\s,]+/).filter(Boolean);
    case 'UInt8':
    case 'UInt16':
    case 'UInt32':
    case 'Int8':
    case 'Int16':
    case 'Int32': {
      const n = Number(t);
      if (!Number.isInteger(n)) throw new Error(`option ${code} needs an integer, got ${JSON.stringify(text)}`);
      return n;
    }
    case 'UInt16s':
      return t.split(/[\s,]+/).filter(Boolean).map(Number);
    case 'Bool':
      return t === 'true' || t === '1';
    case 'ASCII':
    case 'UTF8':
      return text;
    default: {
      const hex = t.replace(/[:\s]/g, '');
      if (!/^([0-9a-fA-F]{2})*$/.test(hex)) throw new Error(`option ${code} needs hex bytes, got ${JSON.stringify(text)}`);
      return Buffer.from(hex, 'hex');
    }
  }
}
