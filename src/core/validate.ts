/**
 * Value checks shared by the services: MAC spellings, IPv4 addresses and CIDRs. Each returns a normalised
 * value or undefined, so callers can turn failures into field errors that name the field.
 */
import { FarrierError, type FieldError } from '../errors.js';

/** Accepts aa:bb:cc:dd:ee:ff, aa-bb-cc-dd-ee-ff, aabb.ccdd.eeff, aabbccddeeff (any case) → aa:bb:cc:dd:ee:ff. */
export function normalizeMac(input: string): string | undefined {
  const s = input.trim().toLowerCase();
  let hex: string;
  if (/^[0-9a-f]{2}([:-])[0-9a-f]{2}(\1[0-9a-f]{2}){4}$/.test(s)) hex = s.replace(/[:-]/g, '');
  else if (/^[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4}$/.test(s)) hex = s.replace(/\./g, '');
  else if (/^[0-9a-f]{12}$/.test(s)) hex = s;
  else return undefined;
  return hex.match(/../g)!.join(':');
}

/** Dotted quad → 32-bit unsigned integer, or undefined (no leading zeros, each octet 0..255). */
export function ipToInt(ip: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (!m) return undefined;
  let n = 0;
  for (const part of m.slice(1)) {
    if (part.length > 1 && part.startsWith('0')) return undefined;
    const o = Number(part);
    if (o > 255) return undefined;
    n = n * 256 + o;
  }
  return n;
}

export const intToIp = (n: number): string => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');

export interface Cidr {
  network: number;
  prefix: number;
  /** First and last address of the block (network and broadcast for prefixes < 31). */
  first: number;
  last: number;
}

/** `10.0.0.0/24` → network; host bits must be zero. */
export function parseCidr(cidr: string): Cidr | undefined {
  const m = /^([0-9.]+)\/(\d{1,2})$/.exec(cidr.trim());
  if (!m) return undefined;
  const ip = ipToInt(m[1]!);
  const prefix = Number(m[2]);
  if (ip === undefined || prefix > 32) return undefined;
  const size = 2 ** (32 - prefix);
  if (ip % size !== 0) return undefined;
  return { network: ip, prefix, first: ip, last: ip + size - 1 };
}

/** Collects field errors and throws one VALIDATION error naming the object and every bad field. */
export class Problems {
  readonly list: FieldError[] = [];
  constructor(private readonly what: string) {}

  add(field: string, message: string): void {
    this.list.push({ field, message });
  }

  throwIfAny(): void {
    if (this.list.length === 0) return;
    const text = this.list.map((p) => `${p.field}: ${p.message}`).join('; ');
    throw new FarrierError('VALIDATION', `${this.what}: ${text}`, this.list);
  }
}

/** Names of objects (keys in URLs): letters/digits first, then letters, digits, `.`, `_`, `-`. */
export const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/;
export const PARAM_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,252}$/;
