/**
 * A Farrier DHCP server on loopback for packet tests: the real SQLite store, lease engine, server and
 * sockets (explicit-address mode on 127.0.0.1, random high ports), plus a client socket on 127.0.0.1 that
 * receives the "broadcast" replies (sent to 127.0.0.1 in this mode). Unicast replies go to ciaddr, which tests
 * catch with a socket bound to that loopback address on the client port.
 */
import { createSocket, type Socket } from 'node:dgram';
import { join } from 'node:path';
import { pino } from 'pino';
import type { Test } from 'tap';
import { LeaseEngine } from '../../../src/core/leaseEngine.js';
import { CachedDirectory } from '../../../src/dhcp/directoryCache.js';
import { DhcpServer } from '../../../src/dhcp/server.js';
import { startDhcpSockets, type DhcpSockets } from '../../../src/dhcp/sockets.js';
import { EventBus } from '../../../src/events/bus.js';
import type { BootEnv, FarrierEvent, Machine, Reservation, Subnet } from '../../../src/model/types.js';
import { openSqliteStore } from '../../../src/store/sqlite/index.js';
import type { Store } from '../../../src/store/store.js';
import { tempDir } from '../../helpers/env.js';
import { parse, type Parsed } from './packets.js';
import { storeDirectory } from './storeDirectory.js';

type New<T> = Omit<T, 'createdAt' | 'updatedAt' | 'version'>;

export interface HarnessSetup {
  subnets?: New<Subnet>[];
  reservations?: New<Reservation>[];
  machines?: Array<Partial<Machine> & { uuid: string; macs: string[] }>;
  bootenvs?: Array<Partial<BootEnv> & { name: string }>;
  prefs?: Record<string, unknown>;
  dataDir?: string;
  leaseOptions?: ConstructorParameters<typeof LeaseEngine>[1];
}

export const SERVER_IP = '127.0.0.1';
export const HTTP_PORT = 8091;

export const randomPort = (): number => 20000 + Math.floor(Math.random() * 40000);

export function udp(address: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createSocket({ type: 'udp4' });
    s.once('error', reject);
    s.bind(port, address, () => {
      s.off('error', reject);
      resolve(s);
    });
  });
}

/** Polls `read` until it returns `want` (no reply acknowledges RELEASE/DECLINE or side effects), up to `ms`. */
export async function settle<T>(read: () => Promise<T>, want: T, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (v === want || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}

export class Inbox {
  private queue: Array<{ p: Parsed; from: { address: string; port: number } }> = [];
  private waiters: Array<() => void> = [];
  constructor(readonly sock: Socket) {
    sock.on('message', (msg, rinfo) => {
      try {
        this.queue.push({ p: parse(msg), from: { address: rinfo.address, port: rinfo.port } });
      } catch {
        return;
      }
      for (const w of this.waiters.splice(0)) w();
    });
  }
  /** Next reply (optionally for one xid), or undefined after `ms`. */
  async next(xid?: number, ms = 5000): Promise<{ p: Parsed; from: { address: string; port: number } } | undefined> {
    const deadline = Date.now() + ms;
    for (;;) {
      const i = this.queue.findIndex((m) => xid === undefined || m.p.xid === xid);
      if (i >= 0) return this.queue.splice(i, 1)[0];
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      await new Promise<void>((r) => {
        const timer = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          r();
        });
      });
    }
  }
}

export interface Harness {
  store: Store;
  counters: Map<string, number>;
  events: FarrierEvent[];
  serverPort: number;
  proxyPort: number;
  clientPort: number;
  client: Inbox;
  sockets: DhcpSockets;
  server: DhcpServer;
  /** Send a request to the server from the client socket and wait for the reply with the same xid. */
  ask(pkt: Buffer, ms?: number): Promise<Parsed | undefined>;
  send(pkt: Buffer, from?: Socket): void;
  stop(): Promise<void>;
}

export async function seed(store: Store, s: HarnessSetup): Promise<void> {
  for (const sub of s.subnets ?? []) await store.put('subnets', sub.name, sub, { mode: 'upsert' });
  for (const r of s.reservations ?? []) await store.put('reservations', r.address, r, { mode: 'upsert' });
  for (const b of s.bootenvs ?? []) {
    const env = { description: '', os: { name: b.name }, kernel: '', initrds: [], bootParams: '', templates: [], requiredParams: [], optionalParams: [], onlyUnknown: false, available: true, errors: [], readOnly: false, ...b };
    await store.put('bootenvs', b.name, env, { mode: 'upsert' });
  }
  for (const m of s.machines ?? []) {
    const mach = { name: m.uuid, address: null, arch: 'amd64', bootenv: 'local', profiles: [], params: {}, description: '', available: true, errors: [], ...m };
    await store.put('machines', m.uuid, mach, { mode: 'upsert' });
  }
  if (s.prefs) await store.setPrefs(s.prefs);
}

export async function startHarness(t: Test, setup: HarnessSetup): Promise<Harness> {
  const dir = setup.dataDir ?? tempDir(t, 'farrier-dhcp-');
  const store = await openSqliteStore(join(dir, 'farrier.db'));
  await seed(store, setup);
  const counters = new Map<string, number>();
  const events: FarrierEvent[] = [];
  const bus = new EventBus();
  bus.subscribe({ type: 'dhcp' }, (e) => events.push(e));
  const log = pino({ level: 'silent' });
  const clientSock = await udp(SERVER_IP, 0);
  const clientPort = clientSock.address().port;
  for (let attempt = 0; ; attempt++) {
    const serverPort = randomPort();
    const proxyPort = randomPort();
    const server = new DhcpServer({
      directory: new CachedDirectory(storeDirectory(store), undefined, 0),
      leases: new LeaseEngine(store, setup.leaseOptions),
      events: bus,
      log,
      counters,
      httpPort: HTTP_PORT,
      ports: { server: serverPort, client: clientPort },
    });
    let sockets: DhcpSockets;
    try {
      sockets = await startDhcpSockets({
        server,
        log,
        counters,
        port: serverPort,
        proxyPort,
        interfaces: [],
        explicit: { bindAddress: SERVER_IP, iface: { name: 'lo', address: SERVER_IP, prefix: 8, broadcastTo: SERVER_IP } },
      });
    } catch (err) {
      if (attempt < 5) continue;
      throw err;
    }
    const client = new Inbox(clientSock);
    const h: Harness = {
      store,
      counters,
      events,
      serverPort,
      proxyPort,
      clientPort,
      client,
      sockets,
      server,
      send(pkt, from = clientSock) {
        from.send(pkt, serverPort, SERVER_IP);
      },
      async ask(pkt, ms) {
        h.send(pkt);
        return (await client.next(pkt.readUInt32BE(4), ms))?.p;
      },
      async stop() {
        await sockets.close();
        clientSock.close();
        await store.close();
      },
    };
    t.teardown(() => h.stop());
    return h;
  }
}
