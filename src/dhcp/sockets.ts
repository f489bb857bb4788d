/**
 * UDP sockets for DHCP (67) and proxyDHCP (4011), one pair per served interface.
 *
 * Node's dgram has no IP_PKTINFO, so a socket bound to 0.0.0.0 cannot tell which NIC a broadcast came in on,
 * and a socket bound to a unicast address does not receive broadcasts on Linux. So each interface gets its own
 * socket bound to 0.0.0.0:port and pinned to the interface with SO_BINDTOIFINDEX (SOL_SOCKET 1, option 62,
 * Linux ≥ 5.0; the `sockopt` package sets integer options only, which rules out the string SO_BINDTODEVICE).
 * A pinned socket receives only its interface's packets and its broadcasts leave through that interface with
 * its address. The sockets share the port, which needs reuseAddr, so a lock file in the data directory is
 * what makes a second daemon fail loudly.
 *
 * Explicit mode (tests, single-address setups): one socket bound to a given address, no reuseAddr.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import sockopt from 'sockopt';
import { FarrierError } from '../errors.js';
import { bump, type Counters, type Log } from './ports.js';
import type { DhcpServer, ServedInterface, Via } from './server.js';

const SOL_SOCKET = 1;
const SO_BINDTOIFINDEX = 62;
/**
 * Receive buffer: a few hundred ms of requests at thousands per second, so a pause of the event loop (GC, a
 * commit, a CPU shared with other work) does not drop them; clients wait seconds before retrying anyway.
 * The kernel caps it at net.core.rmem_max.
 */
const RECV_BUFFER = 2 * 1024 * 1024;

export interface DhcpSocketOptions {
  server: DhcpServer;
  log: Log;
  counters: Counters;
  port: number;
  /** proxyDHCP follow-up port; null disables it. */
  proxyPort: number | null;
  /** Interface names to serve (empty = every interface with an IPv4 address, loopback excluded). */
  interfaces: string[];
  /** Directory for the lock file (the data dir); omitted in explicit mode tests. */
  lockDir?: string;
  /** Explicit mode: bind here instead of per interface. */
  explicit?: { bindAddress: string; iface: ServedInterface };
}

export interface DhcpSockets {
  interfaces: ServedInterface[];
  ports: { dhcp: number; proxy: number | null };
  close(): Promise<void>;
}

/** IPv4 interfaces from os.networkInterfaces(), first address of each, filtered by name. */
export function discoverInterfaces(only: string[]): Array<ServedInterface & { index: number }> {
  const out: Array<ServedInterface & { index: number }> = [];
  for (const [name, addrs] of Object.entries(networkInterfaces())) {
    if (only.length > 0 ? !only.includes(name) : name === 'lo') continue;
    const v4 = (addrs ?? []).find((a) => a.family === 'IPv4' && (only.length > 0 || !a.internal));
    if (!v4 || !v4.cidr) continue;
    let index: number;
    try {
      index = Number(readFileSync(`/sys/class/net/${name}/ifindex`, 'utf8').trim());
    } catch {
      continue;
    }
    out.push({ name, index, address: v4.address, prefix: Number(v4.cidr.split('/')[1]), broadcastTo: '255.255.255.255' });
  }
  const missing = only.filter((n) => !out.some((i) => i.name === n));
  if (missing.length > 0) throw new FarrierError('VALIDATION', `DHCP interfaces without an IPv4 address or not found: ${missing.join(', ')}`);
  return out;
}

function takeLock(dir: string): () => void {
  const path = join(dir, 'dhcp.lock');
  try {
    writeFileSync(path, String(process.pid), { flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const holder = Number(readFileSync(path, 'utf8').trim());
    let alive = false;
    try {
      process.kill(holder, 0);
      alive = true;
    } catch {
      alive = false;
    }
    if (alive) throw new FarrierError('CONFLICT', `another Farrier (pid ${holder}) is serving DHCP from this data dir (${path})`);
    writeFileSync(path, String(process.pid));
  }
  return () => {
    try {
      unlinkSync(path);
    } catch {
      // already gone
    }
  };
}

function bind(sock: Socket, port: number, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(new FarrierError('UNAVAILABLE', `cannot bind UDP ${address}:${port}: ${err.message}`));
    sock.once('error', onError);
    sock.bind({ port, address, exclusive: true }, () => {
      sock.off('error', onError);
      resolve();
    });
  });
}

export async function startDhcpSockets(o: DhcpSocketOptions): Promise<DhcpSockets> {
  const sockets: Socket[] = [];
  const release = o.lockDir ? takeLock(o.lockDir) : () => undefined;
  const serve = (sock: Socket, iface: ServedInterface, via: Via) => {
    sock.on('error', (err) => o.log.error({ err, iface: iface.name }, 'dhcp: socket error'));
    sock.on('message', (msg: Buffer, rinfo: RemoteInfo) => {
      void o.server.handle(msg, iface, via, { address: rinfo.address, port: rinfo.port }).then((out) => {
        if (!out) return;
        const failed = (err: unknown) => {
          bump(o.counters, 'send_errors');
          o.log.warn({ err, to: out.to }, 'dhcp: send failed');
        };
        try {
          sock.send(out.data, out.to.port, out.to.address, (err) => err && failed(err));
        } catch (err) {
          failed(err); // the socket was closed while the reply was being prepared (shutdown)
        }
      });
    });
  };
  try {
    let ifaces: ServedInterface[];
    if (o.explicit) {
      ifaces = [o.explicit.iface];
      const pairs: Array<[number, Via]> = [[o.port, 'dhcp']];
      if (o.proxyPort !== null) pairs.push([o.proxyPort, 'proxy']);
      for (const [port, via] of pairs) {
        const sock = createSocket({ type: 'udp4', recvBufferSize: RECV_BUFFER });
        sockets.push(sock);
        await bind(sock, port, o.explicit.bindAddress);
        sock.setBroadcast(true);
        serve(sock, o.explicit.iface, via);
      }
    } else {
      const found = discoverInterfaces(o.interfaces);
      ifaces = found;
      for (const iface of found) {
        const pairs: Array<[number, Via]> = [[o.port, 'dhcp']];
        if (o.proxyPort !== null) pairs.push([o.proxyPort, 'proxy']);
        for (const [port, via] of pairs) {
          const sock = createSocket({ type: 'udp4', reuseAddr: true, recvBufferSize: RECV_BUFFER });
          sockets.push(sock);
          await bind(sock, port, '0.0.0.0');
          sockopt.setsockopt(sock, SOL_SOCKET, SO_BINDTOIFINDEX, iface.index);
          sock.setBroadcast(true);
          serve(sock, iface, via);
        }
      }
      o.log.info({ interfaces: found.map((i) => `${i.name}:${i.address}/${i.prefix}`) }, 'dhcp: serving');
    }
    let closed = false;
    return {
      interfaces: ifaces,
      ports: { dhcp: o.port, proxy: o.proxyPort },
      close: async () => {
        if (closed) return;
        closed = true;
        await Promise.all(sockets.map((s) => new Promise<void>((r) => s.close(() => r()))));
        release();
      },
    };
  } catch (err) {
    for (const s of sockets) s.close();
    release();
    throw err;
  }
}
