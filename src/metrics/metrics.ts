/**
 * Prometheus metrics at GET /metrics, on a registry of their own (not prom-client's global one, so two
 * daemons in one process — the tests — never share counters). Everything is read from what already exists:
 * the DHCP server's counters map and the bus's dhcp/tftp/http/render events; pool usage and lease counts
 * are queried at scrape time, never per packet. HTTP durations come from one onResponse hook.
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { Authenticator } from '../auth/authenticate.js';
import type { Services } from '../core/services.js';
import { ipToInt } from '../dhcp/ipv4.js';
import type { EventBus } from '../events/bus.js';
import type { FarrierEvent } from '../model/types.js';

export interface MetricsOptions {
  services: Services;
  bus: EventBus;
  /** The running DHCP server's counters (`in_discover`, `out_offer`, `dropped_malformed` …), if DHCP runs. */
  dhcpCounters: () => ReadonlyMap<string, number> | undefined;
  /** Require API credentials on /metrics (`--metrics-auth`). */
  requireAuth: boolean;
}

export interface Metrics {
  registry: Registry;
  plugin: FastifyPluginAsync;
}

/** Transfer durations: from a 1 KB script (ms) to an installer ISO over a slow link (minutes). */
const TRANSFER_BUCKETS = [0.005, 0.025, 0.1, 0.5, 1, 2.5, 10, 30, 120, 600];
const API_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/** `in_discover` → direction in, type discover; anything else is a drop/ignore reason. */
function splitCounter(name: string): { direction: 'in' | 'out'; type: string } | undefined {
  const m = /^(in|out)_(.+)$/.exec(name);
  return m ? { direction: m[1] as 'in' | 'out', type: m[2]! } : undefined;
}

const rec = (e: FarrierEvent): Record<string, unknown> => (e.object && typeof e.object === 'object' ? (e.object as Record<string, unknown>) : {});

export function createMetrics(o: MetricsOptions): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'farrier_process_' });

  new Counter({
    name: 'farrier_dhcp_packets_total',
    help: 'DHCP packets received (in) and sent (out) by message type',
    labelNames: ['direction', 'type'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [name, n] of o.dhcpCounters() ?? []) {
        const s = splitCounter(name);
        if (s) this.inc(s, n);
      }
    },
  });
  new Counter({
    name: 'farrier_dhcp_dropped_total',
    help: 'DHCP packets dropped or ignored, by reason (malformed, no subnet, pool exhausted, other server, store unavailable, errors)',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [name, n] of o.dhcpCounters() ?? []) if (!splitCounter(name)) this.inc({ reason: name.replace(/^dropped_/, '') }, n);
    },
  });
  const decisions = new Counter({
    name: 'farrier_dhcp_decisions_total',
    help: 'PXE boot decisions for known machines, by reason',
    labelNames: ['reason'],
    registers: [registry],
  });
  new Gauge({
    name: 'farrier_dhcp_pool_used_ratio',
    help: 'Share of each subnet\'s active range held by offered or bound leases',
    labelNames: ['subnet'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const s of (await o.services.subnets.list({})).items) {
        const from = ipToInt(s.activeStart);
        const to = ipToInt(s.activeEnd);
        const counts = await o.services.store.leaseCounts(from, to);
        const used = (counts.bound ?? 0) + (counts.offered ?? 0);
        this.set({ subnet: s.name }, to >= from ? used / (to - from + 1) : 0);
      }
    },
  });
  new Gauge({
    name: 'farrier_dhcp_leases',
    help: 'Leases by state',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      this.reset();
      const counts = await o.services.store.leaseCounts(0, 0xffffffff);
      for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
    },
  });

  const transfers = new Counter({
    name: 'farrier_boot_transfers_total',
    help: 'Boot file transfers by protocol (tftp, http) and outcome (TFTP outcome or HTTP status)',
    labelNames: ['protocol', 'outcome'],
    registers: [registry],
  });
  const bytes = new Counter({
    name: 'farrier_boot_transfer_bytes_total',
    help: 'Boot file bytes sent, by protocol',
    labelNames: ['protocol'],
    registers: [registry],
  });
  const transferErrors = new Counter({
    name: 'farrier_boot_transfer_errors_total',
    help: 'Boot file transfers that failed (TFTP not complete, HTTP status >= 400), by protocol',
    labelNames: ['protocol'],
    registers: [registry],
  });
  const durations = new Histogram({
    name: 'farrier_boot_transfer_duration_seconds',
    help: 'Boot file transfer durations, by protocol',
    labelNames: ['protocol'],
    buckets: TRANSFER_BUCKETS,
    registers: [registry],
  });
  const renderErrors = new Counter({
    name: 'farrier_render_errors_total',
    help: 'Template render errors while serving boot files',
    registers: [registry],
  });
  const api = new Histogram({
    name: 'farrier_http_request_duration_seconds',
    help: 'HTTP request durations by route, method and status',
    labelNames: ['route', 'method', 'status'],
    buckets: API_BUCKETS,
    registers: [registry],
  });

  // The subscriptions live as long as the bus: both belong to one daemon.
  o.bus.subscribe({ type: 'dhcp' }, (e) => {
    const reason = rec(e).decision;
    if (typeof reason === 'string') decisions.inc({ reason });
  });
  o.bus.subscribe({ type: 'tftp' }, (e) => {
    const d = rec(e);
    transfers.inc({ protocol: 'tftp', outcome: e.action });
    if (typeof d.bytes === 'number') bytes.inc({ protocol: 'tftp' }, d.bytes);
    if (typeof d.durationMs === 'number') durations.observe({ protocol: 'tftp' }, d.durationMs / 1000);
    if (e.action !== 'complete') transferErrors.inc({ protocol: 'tftp' });
  });
  o.bus.subscribe({ type: 'http' }, (e) => {
    const d = rec(e);
    const status = typeof d.status === 'number' ? d.status : 0;
    transfers.inc({ protocol: 'http', outcome: String(status) });
    if (typeof d.bytes === 'number') bytes.inc({ protocol: 'http' }, d.bytes);
    if (status >= 400) transferErrors.inc({ protocol: 'http' });
  });
  o.bus.subscribe({ type: 'render' }, () => renderErrors.inc());

  const auth = o.requireAuth ? new Authenticator(o.services) : undefined;
  const plugin: FastifyPluginAsync = async (app: FastifyInstance) => {
    app.addHook('onResponse', async (req: FastifyRequest, reply: FastifyReply) => {
      const route = req.routeOptions.url ?? 'unmatched';
      const seconds = reply.elapsedTime / 1000;
      api.observe({ route, method: req.method, status: String(reply.statusCode) }, seconds);
      // Boot files are the `/*` route; their failures are counted from the bus event, durations here.
      if (route === '/*' && req.method === 'GET') durations.observe({ protocol: 'http' }, seconds);
    });
    app.get('/metrics', async (req, reply) => {
      if (auth) await auth.principalOf(req);
      return reply.type(registry.contentType).send(await registry.metrics());
    });
  };
  // Like fastify-plugin: the hook must see every route of the app, not only this plugin's own.
  (plugin as FastifyPluginAsync & Record<symbol, unknown>)[Symbol.for('skip-override')] = true;

  return { registry, plugin };
}
