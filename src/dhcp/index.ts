/**
 * Entry point for the daemon: builds the DHCP server over its ports and opens its sockets.
 * The daemon builds the lease engine (a core service over the Store) through `leases`, and passes the directory
 * source (services), the event bus (events out, object changes in for the cache) and a logger.
 */
import { CachedDirectory, type ChangeFeed } from './directoryCache.js';
import type { Counters, DhcpDirectory, DirectorySource, EventSink, LeasePort, Log } from './ports.js';
import { DhcpServer } from './server.js';
import { startDhcpSockets, type DhcpSocketOptions, type DhcpSockets } from './sockets.js';

export interface StartDhcpOptions {
  source: DirectorySource;
  bus: EventSink & ChangeFeed;
  /**
   * Builds the lease engine; given the cached directory so the engine's reservation checks use the same
   * index, e.g. `(dir) => new LeaseEngine(store, { reservationByAddress: (a) => dir.reservationByAddress(a) })`.
   */
  leases: (directory: DhcpDirectory) => LeasePort;
  log: Log;
  dataDir: string;
  httpPort: number;
  dhcpPort: number;
  dhcpClientPort: number;
  /** null disables proxyDHCP follow-ups. */
  proxyDhcpPort: number | null;
  /** Interface names; empty = every non-loopback interface with an IPv4 address. */
  dhcpInterfaces: string[];
  /** Tests and single-address setups: bind one address instead of per interface (see sockets.ts). */
  explicit?: DhcpSocketOptions['explicit'];
}

export interface RunningDhcp {
  counters: Counters;
  sockets: DhcpSockets;
  close(): Promise<void>;
}

export async function startDhcp(o: StartDhcpOptions): Promise<RunningDhcp> {
  const counters: Counters = new Map();
  const directory = new CachedDirectory(o.source, o.bus);
  const server = new DhcpServer({
    directory,
    leases: o.leases(directory),
    events: o.bus,
    log: o.log,
    counters,
    httpPort: o.httpPort,
    ports: { server: o.dhcpPort, client: o.dhcpClientPort },
  });
  const sockets = await startDhcpSockets({
    server,
    log: o.log,
    counters,
    port: o.dhcpPort,
    proxyPort: o.proxyDhcpPort,
    interfaces: o.dhcpInterfaces,
    lockDir: o.dataDir,
    explicit: o.explicit,
  });
  return {
    counters,
    sockets,
    close: async () => {
      directory.close();
      await sockets.close();
    },
  };
}
