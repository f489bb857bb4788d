/**
 * DHCP fuzzing: a seeded generator of random and mutated request datagrams, and an oracle saying which of them
 * the server must count as malformed. Both are built on the independent test packet builder (packets.ts), not
 * on the codec under test; the oracle walks the wire format itself (RFC 2131/2132, option overload, RFC 3396
 * concatenation) and shares with the codec only the per-type length rule (`optionLengthFits`), which is the
 * documented policy for typed options, so the counts a server reports can be checked packet for packet.
 */
import { optionLengthFits } from '../../../src/dhcp/codec.js';
import { build, DECLINE, DISCOVER, INFORM, ipBytes, RELEASE, REQUEST } from './packets.js';
import { prng } from '../../helpers/prng.js';

export interface FuzzNetwork {
  /** The server's address (server id, and a bogus giaddr). */
  server: string;
  /** The served subnet: [network, broadcast], and an address range the fuzz requests from. */
  network: string;
  broadcast: string;
  poolSample: (n: number) => string;
  /** A relay address with a subnet of its own. */
  relay: string;
  /** Distinct client MACs used (bounded so valid DISCOVERs cannot take the whole pool). */
  macs: number;
}

const MUTATIONS = [
  'truncate',
  'bitflip',
  'badLength',
  'hugeOption',
  'padRun',
  'random',
  'randomOptions',
  'overload',
  'hugePrl',
  'hlen',
  'bogusGiaddr',
  'relayInfo',
  'cookie',
  'bootReply',
  'noEnd',
  'valid',
  'empty',
  'jumbo',
] as const;
export type Mutation = (typeof MUTATIONS)[number];

/** Relative weights: most packets are broken in some way; some stay valid to exercise the lease path. */
const WEIGHTS: Record<Mutation, number> = {
  truncate: 14,
  bitflip: 12,
  badLength: 10,
  hugeOption: 6,
  padRun: 4,
  random: 10,
  randomOptions: 10,
  overload: 6,
  hugePrl: 3,
  hlen: 4,
  bogusGiaddr: 5,
  relayInfo: 4,
  cookie: 3,
  bootReply: 3,
  noEnd: 2,
  valid: 2,
  empty: 0.5,
  jumbo: 0.1,
};

const TOTAL_WEIGHT = Object.values(WEIGHTS).reduce((a, b) => a + b, 0);

/** Generating a million datagrams must cost little next to the server's work: seeds and random bytes are made once. */
const SEEDS = 512;
const POOL = 1 << 20;

export class PacketFuzzer {
  readonly rnd: () => number;
  private readonly seeds: Buffer[] = [];
  private readonly pool = Buffer.allocUnsafe(POOL);

  constructor(
    seed: number,
    private readonly net: FuzzNetwork,
  ) {
    this.rnd = prng(seed);
    for (let i = 0; i < POOL; i += 4) this.pool.writeUInt32LE(Math.floor(this.rnd() * 4294967296), i);
    for (let i = 0; i < SEEDS; i++) this.seeds.push(this.buildSeed());
  }

  private int(n: number): number {
    return Math.floor(this.rnd() * n);
  }

  /** n seeded random bytes (a slice of the pool at a random offset, copied). */
  private bytes(n: number): Buffer {
    const at = this.int(POOL - n);
    return Buffer.from(this.pool.subarray(at, at + n));
  }

  private mac(): string {
    const n = this.int(this.net.macs);
    return `02:f0:00:00:${((n >> 8) & 255).toString(16).padStart(2, '0')}:${(n & 255).toString(16).padStart(2, '0')}`;
  }

  /** A valid request of a random kind: a copy of a prebuilt one with a MAC from the bounded set. */
  seed(): Buffer {
    const b = Buffer.from(this.seeds[this.int(SEEDS)]!);
    const n = this.int(this.net.macs);
    b[32] = (n >> 8) & 255;
    b[33] = n & 255;
    return b;
  }

  private buildSeed(): Buffer {
    const mac = this.mac();
    const prl: [number, number[]] = [55, [1, 3, 6, 12, 15, 28, 42, 43, 51, 54, 58, 59, 60, 66, 67, 97, 119, 121, 128, 175]];
    switch (this.int(8)) {
      case 0:
        return build({ type: DISCOVER, mac, options: [prl, [60, 'PXEClient:Arch:00007:UNDI:003016'], [93, [0, 7]], [94, [1, 3, 16]], [97, Buffer.alloc(17, 0)], [61, [1, 2, 0xf0, 0, 0, 0, 1]]] });
      case 1:
        return build({ type: DISCOVER, mac, options: [prl, [12, `host-${mac.slice(-5).replace(':', '')}`], [77, 'iPXE'], [175, [1, 1, 1]]] });
      case 2:
        return build({ type: REQUEST, mac, options: [[54, ipBytes(this.net.server)], [50, ipBytes(this.net.poolSample(this.int(65536)))], prl] });
      case 3:
        return build({ type: REQUEST, mac, ciaddr: this.net.poolSample(this.int(65536)), options: [prl] });
      case 4:
        return build({ type: INFORM, mac, ciaddr: this.net.poolSample(this.int(65536)), options: [prl] });
      case 5:
        return build({ type: RELEASE, mac, ciaddr: this.net.poolSample(this.int(65536)), options: [[54, ipBytes(this.net.server)]] });
      case 6:
        return build({ type: DECLINE, mac, options: [[54, ipBytes(this.net.server)], [50, ipBytes(this.net.poolSample(this.int(65536)))]] });
      default:
        return build({ type: DISCOVER, mac, giaddr: this.net.relay, hops: 1, options: [prl, [82, [1, 4, 0, 0, 0, 1, 2, 6, 2, 0, 0, 0, 0, 1]]] });
    }
  }

  pick(): Mutation {
    let r = this.rnd() * TOTAL_WEIGHT;
    for (const m of MUTATIONS) {
      r -= WEIGHTS[m];
      if (r < 0) return m;
    }
    return 'valid';
  }

  /** One datagram and the mutation that made it. */
  next(): { kind: Mutation; data: Buffer } {
    const kind = this.pick();
    return { kind, data: this.make(kind) };
  }

  make(kind: Mutation): Buffer {
    const b = this.seed();
    const optionsEnd = b.indexOf(255, 240);
    const opt = (code: number, body: Buffer) => Buffer.concat([Buffer.from([code, body.length]), body]);
    /** Options inserted right after option 53 (its three bytes at 240). */
    const insert = (...parts: Buffer[]) => Buffer.concat([b.subarray(0, 243), ...parts, b.subarray(243)]);
    switch (kind) {
      case 'truncate':
        return b.subarray(0, this.int(b.length));
      case 'bitflip': {
        const n = 1 + this.int(8);
        for (let i = 0; i < n; i++) b[this.int(b.length)]! ^= 1 << this.int(8);
        return b;
      }
      case 'badLength': {
        // an option length byte somewhere past 53 gets a random value
        const at = 244 + this.int(Math.max(1, optionsEnd - 244));
        b[at] = this.int(256);
        return b;
      }
      case 'hugeOption':
        return insert(Buffer.from([1 + this.int(254), 255]), Buffer.alloc(this.int(300), 0x41));
      case 'padRun':
        return insert(Buffer.alloc(this.int(1200), 0));
      case 'random':
        return this.bytes(this.int(1500));
      case 'randomOptions':
        return Buffer.concat([b.subarray(0, 240), this.bytes(this.int(600))]);
      case 'overload': {
        // 52 says options continue in file (1), sname (2) or both (3); the fields carry options or garbage.
        const mode = this.int(5);
        const out = insert(Buffer.from([52, 1, mode]));
        const fill = (from: number, to: number) => {
          if (this.int(3) === 0) {
            this.bytes(to - from).copy(out, from);
            return;
          }
          const opts = Buffer.concat([opt(12, Buffer.from('overloaded')), opt(60, Buffer.from('PXEClient')), opt(55, this.bytes(this.int(20))), Buffer.from([255])]);
          out.fill(0, from, to);
          opts.copy(out, from, 0, Math.min(opts.length, to - from - (this.int(4) === 0 ? 0 : 2)));
        };
        if (mode === 1 || mode === 3) fill(108, 236);
        if (mode === 2 || mode === 3) fill(44, 108);
        return out;
      }
      case 'hugePrl': {
        const parts: Buffer[] = [];
        for (let i = 1 + this.int(4); i > 0; i--) parts.push(opt(55, this.bytes(255)));
        return insert(...parts);
      }
      case 'hlen':
        b[1] = this.int(3) === 0 ? this.int(256) : 1;
        b[2] = this.int(2) === 0 ? 17 + this.int(239) : this.int(17);
        return b;
      case 'bogusGiaddr': {
        const choices = ['0.1.2.3', '127.0.0.1', '224.0.0.1', '239.255.255.250', '255.255.255.255', '240.0.0.1', this.net.server, this.net.network, this.net.broadcast, this.net.relay, `${1 + this.int(223)}.${this.int(256)}.${this.int(256)}.${this.int(256)}`];
        ipBytes(choices[this.int(choices.length)]!).copy(b, 24);
        if (this.int(2) === 0) ipBytes(choices[this.int(choices.length)]!).copy(b, 12);
        return b;
      }
      case 'relayInfo': {
        const parts: Buffer[] = [];
        for (let i = 1 + this.int(3); i > 0; i--) parts.push(opt(82, this.bytes(this.int(256))));
        ipBytes(this.net.relay).copy(b, 24);
        return insert(...parts);
      }
      case 'cookie':
        b.writeUInt32BE(this.int(0x100000000), 236);
        if (b.readUInt32BE(236) === 0x63825363) b[239] = 0x62;
        return b;
      case 'bootReply':
        b[0] = this.int(2) === 0 ? 2 : this.int(256);
        if (b[0] === 1) b[0] = 2;
        return b;
      case 'noEnd':
        return b.subarray(0, optionsEnd);
      case 'empty':
        return Buffer.alloc(0);
      case 'jumbo':
        return Buffer.concat([b.subarray(0, optionsEnd), Buffer.alloc(8000 + this.int(50_000), 0), Buffer.from([255])]);
      default:
        return b;
    }
  }
}

/** Options of one field, instances of a code concatenated; undefined when an option overruns the field. */
function walk(buf: Buffer, from: number, to: number, into: Map<number, Buffer[]>): boolean {
  let i = from;
  while (i < to) {
    const code = buf[i++]!;
    if (code === 255) return true;
    if (code === 0) continue;
    if (i >= to) return false;
    const len = buf[i++]!;
    if (i + len > to) return false;
    into.set(code, [...(into.get(code) ?? []), buf.subarray(i, i + len)]);
    i += len;
  }
  return true;
}

/**
 * Whether Farrier must drop `buf` as malformed: not a BOOTREQUEST with an Ethernet address, the magic cookie
 * and a DHCP message type 1–8, or an option that overruns its field or does not fit its type's length.
 */
export function expectMalformed(buf: Buffer): boolean {
  if (buf.length < 240 || buf.readUInt32BE(236) !== 0x63825363) return true;
  if (buf[0] !== 1 || buf[1] !== 1 || buf[2] !== 6) return true;
  const opts = new Map<number, Buffer[]>();
  if (!walk(buf, 240, buf.length, opts)) return true;
  const overload = opts.get(52);
  if (overload) {
    const mode = Buffer.concat(overload);
    if (mode.length !== 1 || mode[0]! < 1 || mode[0]! > 3) return true;
    if (mode[0] !== 2 && !walk(buf, 108, 236, opts)) return true;
    if (mode[0] !== 1 && !walk(buf, 44, 108, opts)) return true;
  }
  for (const [code, parts] of opts) if (!optionLengthFits(code, parts.reduce((n, p) => n + p.length, 0))) return true;
  const type = opts.get(53)?.[0]?.[0];
  return type === undefined || type < 1 || type > 8;
}
