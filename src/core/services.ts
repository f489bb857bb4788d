/**
 * The service layer every front end uses (REST API now; DHCP, TFTP and boot files through their ports).
 * One service per resource, all over the one Store, all publishing changes on the one EventBus.
 */
import type { Logger } from 'pino';
import type { EventBus } from '../events/bus.js';
import type { Store } from '../store/store.js';
import { BootEnvService } from './bootenvs.js';
import type { CoreDeps } from './common.js';
import type { RepoContent } from './content.js';
import { LeaseService } from './leases.js';
import { MachineService } from './machines.js';
import { ParamService } from './params.js';
import { PrefsService } from './prefs.js';
import { ProfileService } from './profiles.js';
import { ReservationService, SubnetService } from './subnets.js';
import { TemplateService } from './templates.js';
import type { TokenKeyring } from '../auth/tokens.js';
import { TokenService } from './tokens.js';
import { UserService } from './users.js';

export interface ServicesOptions {
  /** Shipped read-only bootenvs and templates (loadRepoContent). */
  content: RepoContent;
  /** HMAC key for tokens (loadOrCreateTokenKey). */
  tokenKey: Buffer | TokenKeyring;
  tokenTtl: number;
  machineTokenTtl: number;
}

export interface Services {
  store: Store;
  bus: EventBus;
  machines: MachineService;
  bootenvs: BootEnvService;
  templates: TemplateService;
  profiles: ProfileService;
  params: ParamService;
  prefs: PrefsService;
  subnets: SubnetService;
  reservations: ReservationService;
  leases: LeaseService;
  users: UserService;
  tokens: TokenService;
}

/** Builds the services and makes sure the built-in objects (profile `global`) exist. */
export async function createServices(store: Store, bus: EventBus, logger: Logger, opts: ServicesOptions): Promise<Services> {
  const deps: CoreDeps = { store, bus, logger };
  const templates = new TemplateService(deps, opts.content);
  let prefs: PrefsService | undefined;
  const bootenvs = new BootEnvService(deps, opts.content, (id) => templates.exists(id), { getPrefs: () => prefs!.getPrefs() });
  prefs = new PrefsService(deps, (name) => bootenvs.find(name));
  const params = new ParamService(deps, opts.content.params);
  const profiles = new ProfileService(deps, params);
  await profiles.ensureGlobal();
  return {
    store,
    bus,
    machines: new MachineService(deps, bootenvs, params, prefs),
    bootenvs,
    templates,
    profiles,
    params,
    prefs,
    subnets: new SubnetService(deps),
    reservations: new ReservationService(deps),
    leases: new LeaseService(deps),
    users: new UserService(deps),
    tokens: new TokenService(store, opts.tokenKey, { user: opts.tokenTtl, machine: opts.machineTokenTtl }),
  };
}
