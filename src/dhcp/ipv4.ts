/** IPv4 address arithmetic on 32-bit unsigned integers (addresses are stored and compared as integers). */

export function ipToInt(ip: string): number {
  const parts = ip.split('.');
  if (parts.length !== 4) throw new Error(`not an IPv4 address: ${ip}`);
  let n = 0;
  for (const p of parts) {
    const v = Number(p);
    if (!/^\d{1,3}$/.test(p) || v > 255) throw new Error(`not an IPv4 address: ${ip}`);
    n = n * 256 + v;
  }
  return n;
}

export function intToIp(n: number): string {
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

export interface Cidr {
  network: number;
  prefix: number;
  /** First and last address of the block. */
  first: number;
  last: number;
  mask: string;
  broadcast: string;
}

const parsed = new Map<string, Cidr>();

/** Parsed once per distinct string: subnets are matched on every packet. */
export function parseCidr(cidr: string): Cidr {
  const hit = parsed.get(cidr);
  if (hit) return hit;
  const c = computeCidr(cidr);
  if (parsed.size > 10_000) parsed.clear();
  parsed.set(cidr, c);
  return c;
}

function computeCidr(cidr: string): Cidr {
  const [addr, len] = cidr.split('/');
  const prefix = Number(len);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > 32) throw new Error(`bad CIDR: ${cidr}`);
  const maskInt = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  const network = (ipToInt(addr) & maskInt) >>> 0;
  const last = (network | (~maskInt >>> 0)) >>> 0;
  return { network, prefix, first: network, last, mask: intToIp(maskInt), broadcast: intToIp(last) };
}

export function cidrContains(c: Cidr, ip: string | number): boolean {
  const n = typeof ip === 'number' ? ip : ipToInt(ip);
  return n >= c.first && n <= c.last;
}

export const ZERO = '0.0.0.0';
