/**
 * Which interfaces DHCP can serve right now. os.networkInterfaces() (libuv's getifaddrs) lists only
 * interfaces that are up *and* running with an address, so a bridge without carrier or a NIC still waiting for
 * its address is simply absent; sysfs tells those apart so the waiting log says why.
 */
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import type { ServedInterface } from './server.js';

export interface FoundInterface extends ServedInterface {
  index: number;
}

export interface InterfaceScan {
  found: FoundInterface[];
  /** Named interfaces that cannot be served yet, with the reason. */
  waiting: Array<{ name: string; reason: string }>;
}

const IFF_UP = 0x1;

const sysfs = (name: string, file: string): string | undefined => {
  try {
    return readFileSync(`/sys/class/net/${name}/${file}`, 'utf8').trim();
  } catch {
    return undefined;
  }
};

/** Why a named interface is not servable: absent, administratively down, no carrier, or no IPv4 address. */
function whyNot(name: string): string {
  const flags = sysfs(name, 'flags');
  if (flags === undefined) return 'not found';
  if ((Number(flags) & IFF_UP) === 0) return 'down';
  if (sysfs(name, 'carrier') !== '1') return 'no carrier';
  return 'no IPv4 address';
}

/**
 * IPv4 interfaces, first address of each: the named ones (loopback allowed when named), or with `only`
 * empty every non-loopback interface.
 */
export function scanInterfaces(only: string[]): InterfaceScan {
  const found: FoundInterface[] = [];
  for (const [name, addrs] of Object.entries(networkInterfaces())) {
    if (only.length > 0 ? !only.includes(name) : name === 'lo') continue;
    const v4 = (addrs ?? []).find((a) => a.family === 'IPv4' && (only.length > 0 || !a.internal));
    if (!v4?.cidr) continue;
    const index = Number(sysfs(name, 'ifindex'));
    if (!Number.isInteger(index) || index <= 0) continue;
    found.push({ name, index, address: v4.address, prefix: Number(v4.cidr.split('/')[1]), broadcastTo: '255.255.255.255' });
  }
  const waiting = only.filter((n) => !found.some((i) => i.name === n)).map((name) => ({ name, reason: whyNot(name) }));
  return { found, waiting };
}
