/**
 * DHCP (and proxyDHCP) as a daemon service: the lease engine over the store, the directory over the
 * services (cached, refreshed by the bus's change events), the periodic lease sweep, and the sockets.
 */
import { LeaseEngine } from '../core/leaseEngine.js';
import type { DaemonContext, DaemonService } from '../daemon.js';
import { startDhcp, type RunningDhcp, type StartDhcpOptions } from '../dhcp/index.js';
import { servicesDirectory } from './directory.js';

/** Expired leases are also reclaimed lazily; the sweep keeps `farrier leases list` honest in between. */
const SWEEP_MS = 60_000;

export interface DhcpWiringOptions {
  /** Bind one address instead of per interface (single-address setups, loopback tests). */
  explicit?: StartDhcpOptions['explicit'];
}

/** The DHCP service plus its live packet counters (for /metrics). */
export interface DhcpDaemonService extends DaemonService {
  counters(): ReadonlyMap<string, number> | undefined;
}

export function dhcpService(config: DaemonContext['config'], opts: DhcpWiringOptions = {}): DhcpDaemonService {
  let running: RunningDhcp | undefined;
  let stopSweep: (() => void) | undefined;
  return {
    name: 'DHCP',
    infoKey: 'dhcp',
    port: config.dhcpPort,
    portFlag: '--dhcp-port',
    enabled: config.dhcpEnabled,
    counters: () => running?.counters,
    async start(ctx) {
      const log = ctx.logger.child({ service: 'dhcp' });
      let engine: LeaseEngine | undefined;
      running = await startDhcp({
        source: servicesDirectory(ctx.services),
        bus: ctx.bus,
        leases: (dir) => (engine = new LeaseEngine(ctx.services.store, { reservationByAddress: (a) => dir.reservationByAddress(a) })),
        log,
        dataDir: ctx.config.dataDir,
        httpPort: ctx.httpPort,
        dhcpPort: ctx.config.dhcpPort,
        dhcpClientPort: ctx.config.dhcpClientPort,
        proxyDhcpPort: ctx.config.proxyDhcpPort,
        dhcpInterfaces: ctx.config.dhcpInterfaces,
        explicit: opts.explicit,
      });
      stopSweep = engine?.startSweep(SWEEP_MS, (err) => log.error({ err }, 'dhcp: lease sweep failed'));
    },
    async stop() {
      stopSweep?.();
      await running?.close();
      running = undefined;
    },
  };
}
