/** GET /api/v1/info (no auth): version, uptime, service bind status, boot loaders found, object counts. */
import type { Kind } from '../model/types.js';
import { type ApiContext, addRoute } from './route.js';

export interface ServiceStatus {
  enabled: boolean;
  port: number;
  /** Why it is not running: bind failure and its remedy. */
  error?: string;
}

/** What the daemon knows about itself; the API only reports it. */
export interface InfoSource {
  version: string;
  startedAt: number;
  services(): { dhcp: ServiceStatus; tftp: ServiceStatus; http: ServiceStatus } & Record<string, ServiceStatus>;
  /** Filled by the boot-file layer (loader name → path or details). */
  loaders(): Record<string, unknown>;
}

const COUNTED: Kind[] = ['machines', 'bootenvs', 'templates', 'profiles', 'params', 'subnets', 'reservations'];

export function registerInfo(ctx: ApiContext, info: InfoSource): void {
  addRoute(ctx, {
    method: 'GET',
    path: '/info',
    public: true,
    handler: async () => {
      const s = ctx.services;
      const counts: Record<string, number> = {};
      for (const kind of COUNTED) counts[kind] = (await s.store.list(kind, { limit: 0 })).total;
      counts.bootenvs = (await s.bootenvs.list({ limit: 0 })).total;
      counts.templates = (await s.templates.list({ limit: 0 })).total;
      counts.leases = (await s.store.listLeases({ limit: 0 })).total;
      return {
        version: info.version,
        uptime: Math.round((Date.now() - info.startedAt) / 100) / 10,
        services: info.services(),
        loaders: info.loaders(),
        counts,
      };
    },
  });
}
