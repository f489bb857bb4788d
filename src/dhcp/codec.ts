/**
 * DHCPv4 packet codec: the pinned `dhcp@0.2.20` parse/format, made safe and complete for PXE.
 *
 * That package's server is unusable (see docs/dhcp.md), but its codec is sound once fixed. This module is the
 * one place the fixes live:
 * - the option decoder is replaced: a Pad (0) is one byte (the original skips two and desyncs), every option is
 *   read within its declared length (a malformed option throws instead of eating its neighbours), unknown
 *   options are kept as raw bytes instead of being dropped with a console line;
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

/** Replaces the package's decoder (see the module comment for what it fixes). */
SeqBuffer.prototype.getOptions = function getOptions(this: SeqBuffer): Record<number, unknown> {
  const out: Record<number, unknown> = {};
  const buf = this._data;
  while (this._r < buf.length) {
    const code = buf[this._r++];
    if (code === 255) break;
    if (code === 0) continue;
    if (this._r >= buf.length) throw new RangeError('truncated option');
    const len = buf[this._r++];
    if (this._r + len > buf.length) throw new RangeError(`option ${code} overruns the packet`);
    const body = buf.subarray(this._r, this._r + len);
    this._r += len;
    const def = registry[code];
    if (def?.type && def.type !== 'UInt8s') {
      const reader = new SeqBuffer(Buffer.from(body)) as unknown as Reader;
      out[code] = reader['get' + def.type](len);
    } else {
      out[code] = Buffer.from(body);
    }
  }
  return out;
};

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

/** Decode a datagram; throws on anything malformed (callers count and drop). */
export function decode(buf: Buffer): DhcpPacket {
  const p = protocol.parse(buf);
  if (p.magicCookie !== 0x63825363) throw new Error('bad magic cookie');
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
    sname: p.sname,
    file: p.file,
    options: p.options,
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
      if (value.length > 255) throw new RangeError(`option ${code} longer than 255 bytes`);
      if (w._w + 3 + value.length > w._data.length) throw new RangeError('reply larger than 1500 bytes');
      w._data[w._w++] = code;
      w._data[w._w++] = value.length;
      value.copy(w._data, w._w);
      w._w += value.length;
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
