/**
 * Address facts boot files are named and rendered with: MAC spellings used by the loaders, the hex IP
 * pxelinux asks for, and the provisioner address a given client can reach us on.
 */
import { networkInterfaces } from 'node:os';

const MAC_RE = /^([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})$/i;

/** Normalises `AA-BB-..`/`aa:bb:..` to the model's lower-case colon form; undefined when not a MAC. */
export function parseMac(text: string): string | undefined {
  const m = MAC_RE.exec(text);
  return m ? m.slice(1, 7).join(':').toLowerCase() : undefined;
}

/** `aa-bb-cc-dd-ee-ff`: pxelinux (`01-` prefix) and GRUB per-MAC names, iPXE `${mac:hexhyp}`. */
export const macHyphen = (mac: string): string => mac.replace(/:/g, '-');

const IPV4_RE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

function ipv4ToInt(address: string): number | undefined {
  const m = IPV4_RE.exec(address);
  if (!m) return undefined;
  const parts = m.slice(1, 5).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return ((parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]) >>> 0;
}

/** Upper-case 8-digit hex of an IPv4 address (pxelinux.cfg/C0A80A05). */
export function hexAddress(address: string | null): string | null {
  if (!address) return null;
  const n = ipv4ToInt(address);
  return n === undefined ? null : n.toString(16).toUpperCase().padStart(8, '0');
}

/** Inverse of hexAddress; undefined for anything but exactly 8 hex digits (pxelinux also tries prefixes). */
export function addressFromHex(hex: string): string | undefined {
  if (!/^[0-9A-Fa-f]{8}$/.test(hex)) return undefined;
  const n = parseInt(hex, 16);
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** Strips the IPv4-mapped IPv6 prefix Node reports on dual-stack sockets. */
export const plainIpv4 = (address: string): string => address.replace(/^::ffff:/i, '');

/**
 * The host's interfaces, read at most once a second: a TFTP request does not carry the local address, and
 * reading them (getifaddrs) on each one cost more than rendering the file.
 */
let interfaceCache: { at: number; value: ReturnType<typeof networkInterfaces> } | undefined;
function interfaces(): ReturnType<typeof networkInterfaces> {
  const now = Date.now();
  if (!interfaceCache || now - interfaceCache.at >= 1000) interfaceCache = { at: now, value: networkInterfaces() };
  return interfaceCache.value;
}

/**
 * The address a client should use to reach us: the configured static IP, else the local address the
 * client's request arrived on, else the address of the interface whose subnet holds the client (TFTP
 * transfers do not tell us the local address), else the first external IPv4 address.
 */
export function provisionerAddress(staticIp: string | null, clientAddress: string, localAddress?: string): string {
  if (staticIp) return staticIp;
  if (localAddress) {
    const local = plainIpv4(localAddress);
    if (ipv4ToInt(local) !== undefined && local !== '0.0.0.0') return local;
  }
  const client = ipv4ToInt(plainIpv4(clientAddress));
  let fallback: string | undefined;
  for (const addrs of Object.values(interfaces())) {
    for (const a of addrs ?? []) {
      if (a.family !== 'IPv4') continue;
      const ip = ipv4ToInt(a.address);
      const mask = ipv4ToInt(a.netmask);
      if (ip === undefined || mask === undefined) continue;
      if (client !== undefined && ((ip & mask) >>> 0) === ((client & mask) >>> 0)) return a.address;
      if (!a.internal && fallback === undefined) fallback = a.address;
    }
  }
  return fallback ?? '127.0.0.1';
}
