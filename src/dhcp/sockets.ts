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
 * Interfaces are looked up again every few seconds and after a socket fails: one that appears, comes up or
 * gets its address later (a bridge without carrier at boot) is served from then on, one that goes away or
 * changes address has its sockets closed (and rebound with the new address). While a named interface cannot
 * be served the log says which and why.
 *
 * Explicit mode (tests, single-address setups): one socket bound to a given address, no reuseAddr.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sockopt from 'sockopt';
import { FarrierError } from '../errors.js';
import { scanInterfaces, type FoundInterface } from './interfaces.js';
import { LogLimiter } from './logLimit.js';
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
/**
 * Replies waiting in libuv for room in the kernel's send buffer. The kernel holds a unicast reply until its
 * destination's address resolves (seconds, for a host that is not there), and while the buffer is full every
 * later reply queues behind; past this many the reply is dropped (`send_dropped`) so the wait stays bounded.
 */
const MAX_SEND_QUEUE = 256;
const SEND_BUFFER = 1024 * 1024;
const RESCAN_MS = 5000;
/** A still-waiting interface is logged again this often (and at once when the reason changes). */
const WAITING_LOG_MS = 60_000;

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
  /** How often interfaces are looked up again (default 5 s). */
  rescanMs?: number;
}

export interface DhcpSockets {
  /** The interfaces served right now. */
  interfaces(): ServedInterface[];
  ports: { dhcp: number; proxy: number | null };
  close(): Promise<void>;
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

const closeAll = (sockets: Socket[]): Promise<void> =>
  Promise.all(
    sockets.map(
      (s) =>
        new Promise<void>((r) => {
          try {
            s.close(() => r());
          } catch {
            r(); // already closed
          }
        }),
    ),
  ).then(() => undefined);

const sameInterface = (a: FoundInterface, b: FoundInterface): boolean => a.index === b.index && a.address === b.address && a.prefix === b.prefix;
const label = (i: ServedInterface): string => `${i.name}:${i.address}/${i.prefix}`;

export async function startDhcpSockets(o: DhcpSocketOptions): Promise<DhcpSockets> {
  const release = o.lockDir ? takeLock(o.lockDir) : () => undefined;
  const pairs: Array<[number, Via]> = [[o.port, 'dhcp']];
  if (o.proxyPort !== null) pairs.push([o.proxyPort, 'proxy']);

  const sendLog = new LogLimiter();
  const serve = (sock: Socket, iface: ServedInterface, via: Via, onError: (err: Error) => void) => {
    sock.on('error', onError);
    sock.on('message', (msg: Buffer, rinfo: RemoteInfo) => {
      void o.server.handle(msg, iface, via, { address: rinfo.address, port: rinfo.port }).then((out) => {
        if (!out) return;
        const failed = (err: unknown) => {
          bump(o.counters, 'send_errors');
          sendLog.log('error', (suppressed) => o.log.warn({ err, to: out.to, suppressed }, 'dhcp: send failed'));
        };
        try {
          if (sock.getSendQueueCount() >= MAX_SEND_QUEUE) {
            bump(o.counters, 'send_dropped');
            sendLog.log('backlog', (suppressed) => o.log.warn({ to: out.to, queued: sock.getSendQueueCount(), suppressed }, 'dhcp: replies backed up; dropping'));
            return;
          }
          sock.send(out.data, out.to.port, out.to.address, (err) => err && failed(err));
        } catch (err) {
          failed(err); // the socket was closed while the reply was being prepared (shutdown, interface gone)
        }
      });
    });
  };

  if (o.explicit) {
    const iface = o.explicit.iface;
    const sockets: Socket[] = [];
    try {
      for (const [port, via] of pairs) {
        const sock = createSocket({ type: 'udp4', recvBufferSize: RECV_BUFFER, sendBufferSize: SEND_BUFFER });
        sockets.push(sock);
        await bind(sock, port, o.explicit.bindAddress);
        sock.setBroadcast(true);
        serve(sock, iface, via, (err) => o.log.error({ err, iface: iface.name }, 'dhcp: socket error'));
      }
    } catch (err) {
      await closeAll(sockets);
      release();
      throw err;
    }
    let closed = false;
    return {
      interfaces: () => [iface],
      ports: { dhcp: o.port, proxy: o.proxyPort },
      close: async () => {
        if (closed) return;
        closed = true;
        await closeAll(sockets);
        release();
      },
    };
  }

  const bound = new Map<string, { iface: FoundInterface; sockets: Socket[] }>();
  let closed = false;
  let lastWaiting = '';
  let lastWaitingLog = 0;

  const unbind = (name: string): Promise<void> => {
    const b = bound.get(name);
    if (!b) return Promise.resolve();
    bound.delete(name);
    return closeAll(b.sockets);
  };

  const bindInterface = async (iface: FoundInterface): Promise<void> => {
    const sockets: Socket[] = [];
    try {
      for (const [port, via] of pairs) {
        const sock = createSocket({ type: 'udp4', reuseAddr: true, recvBufferSize: RECV_BUFFER, sendBufferSize: SEND_BUFFER });
        sockets.push(sock);
        await bind(sock, port, '0.0.0.0');
        sockopt.setsockopt(sock, SOL_SOCKET, SO_BINDTOIFINDEX, iface.index);
        sock.setBroadcast(true);
        serve(sock, iface, via, (err) => {
          o.log.error({ err, iface: iface.name }, 'dhcp: socket error; looking the interface up again');
          if (bound.get(iface.name)?.sockets.includes(sock)) void unbind(iface.name).then(() => rescan());
        });
      }
    } catch (err) {
      await closeAll(sockets);
      throw err;
    }
    bound.set(iface.name, { iface, sockets });
  };

  /** Brings the bound sockets in line with the interfaces as they are now; on the first run, bind errors throw. */
  const sync = async (first: boolean): Promise<void> => {
    if (closed) return;
    const scan = scanInterfaces(o.interfaces);
    for (const [name, b] of [...bound]) {
      const now = scan.found.find((i) => i.name === name);
      if (now && sameInterface(now, b.iface)) continue;
      o.log.warn({ iface: name, was: label(b.iface), now: now ? label(now) : null }, now ? 'dhcp: interface changed; rebinding' : 'dhcp: interface gone; stopped serving it');
      await unbind(name);
    }
    const waiting = [...scan.waiting];
    let added = false;
    for (const iface of scan.found) {
      if (bound.has(iface.name) || closed) continue;
      try {
        await bindInterface(iface);
        added = true;
      } catch (err) {
        if (first) throw err;
        waiting.push({ name: iface.name, reason: (err as Error).message });
      }
    }
    if (added) o.log.info({ interfaces: [...bound.values()].map((b) => label(b.iface)) }, 'dhcp: serving');
    const key = JSON.stringify(waiting) + (bound.size === 0 ? ':none' : '');
    const isWaiting = waiting.length > 0 || bound.size === 0;
    if (isWaiting && (key !== lastWaiting || Date.now() - lastWaitingLog >= WAITING_LOG_MS)) {
      lastWaitingLog = Date.now();
      const rescanSeconds = (o.rescanMs ?? RESCAN_MS) / 1000;
      if (waiting.length > 0) {
        o.log.warn(
          { waiting: waiting.map((w) => `${w.name} (${w.reason})`), rescanSeconds },
          `dhcp: waiting for ${waiting.map((w) => `${w.name} (${w.reason})`).join(', ')}; served as soon as it is up with an IPv4 address`,
        );
      } else {
        o.log.warn({ rescanSeconds }, 'dhcp: no interface with an IPv4 address to serve yet');
      }
    }
    lastWaiting = isWaiting ? key : '';
  };

  let running: Promise<void> = Promise.resolve();
  const rescan = (): Promise<void> => {
    running = running.then(() => sync(false)).catch((err: unknown) => o.log.error({ err }, 'dhcp: interface rescan failed'));
    return running;
  };

  try {
    await sync(true);
  } catch (err) {
    await Promise.all([...bound.keys()].map(unbind));
    release();
    throw err;
  }
  const timer = setInterval(() => void rescan(), o.rescanMs ?? RESCAN_MS);
  timer.unref();
  return {
    interfaces: () => [...bound.values()].map((b) => b.iface),
    ports: { dhcp: o.port, proxy: o.proxyPort },
    close: async () => {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      await running;
      await Promise.all([...bound.keys()].map(unbind));
      release();
    },
  };
}
