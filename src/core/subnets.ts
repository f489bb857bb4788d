/**
 * Subnets (DHCP scopes) and reservations (fixed MAC → address bindings). Checked here: CIDR form, active
 * range inside the CIDR and ordered, no overlapping subnets, lease times within sane bounds, option codes.
 */
import { conflict, notFound } from '../errors.js';
import type { DhcpOption, Reservation, Subnet } from '../model/types.js';
import type { ListQuery, ListResult, Stored, Unstored } from '../store/store.js';
import { type CoreDeps, clientVersionOf, publishChange, updateObject } from './common.js';
import type { ListSpec } from './list.js';
import { applyPatch } from './patch.js';
import { NAME_RE, Problems, intToIp, ipToInt, normalizeMac, parseCidr } from './validate.js';

export const subnetListSpec: ListSpec = { fields: { name: 'string', cidr: 'string', enabled: 'boolean', proxy: 'boolean', onlyReservations: 'boolean', activeStart: 'string', activeEnd: 'string', leaseTime: 'number', reservedLeaseTime: 'number', nextServer: 'string', description: 'string' } };
export const reservationListSpec: ListSpec = { fields: { address: 'string', mac: 'string', nextServer: 'string', description: 'string' } };

const MIN_LEASE = 60;
const MAX_LEASE = 365 * 24 * 3600;

function options(p: Problems, raw: unknown): DhcpOption[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) {
    p.add('options', 'must be a list of {code, value}');
    return [];
  }
  return raw.map((o: unknown, i) => {
    const opt = (o ?? {}) as Partial<DhcpOption>;
    if (!Number.isInteger(opt.code) || opt.code! < 1 || opt.code! > 254) p.add(`options/${i}/code`, 'must be an integer 1..254');
    if (typeof opt.value !== 'string') p.add(`options/${i}/value`, 'must be a string');
    return { code: Number(opt.code), value: String(opt.value ?? '') };
  });
}

function nextServer(p: Problems, raw: unknown): string | null {
  if (raw === undefined || raw === null || raw === '') return null;
  if (typeof raw !== 'string' || ipToInt(raw) === undefined) p.add('nextServer', `${JSON.stringify(raw)} is not an IPv4 address`);
  return typeof raw === 'string' ? raw : null;
}

export function normalizeSubnet(input: Record<string, unknown>, key: string | undefined): Unstored<Subnet> {
  const name = typeof input.name === 'string' ? input.name : key;
  const p = new Problems(`subnet ${JSON.stringify(name ?? '')}`);
  if (!name) p.add('name', 'is required');
  else if (!NAME_RE.test(name)) p.add('name', 'must start with a letter or digit and hold only letters, digits, ".", "_", "-"');
  if (key !== undefined && input.name !== undefined && input.name !== key) p.add('name', `must match ${JSON.stringify(key)}`);
  const cidr = typeof input.cidr === 'string' ? parseCidr(input.cidr) : undefined;
  if (!cidr) p.add('cidr', `${JSON.stringify(input.cidr ?? null)} is not an IPv4 network like 10.0.0.0/24 (host bits must be zero)`);
  // Hosts exclude the network and broadcast addresses except in /31 and /32.
  const hostFirst = cidr ? (cidr.prefix >= 31 ? cidr.first : cidr.first + 1) : 0;
  const hostLast = cidr ? (cidr.prefix >= 31 ? cidr.last : cidr.last - 1) : 0;
  const addr = (field: 'activeStart' | 'activeEnd', dflt: number): number | undefined => {
    const raw = input[field];
    if (raw === undefined || raw === null || raw === '') return cidr ? dflt : undefined;
    const n = typeof raw === 'string' ? ipToInt(raw) : undefined;
    if (n === undefined) p.add(field, `${JSON.stringify(raw)} is not an IPv4 address`);
    else if (cidr && (n < hostFirst || n > hostLast)) p.add(field, `${raw} is outside ${input.cidr as string} (hosts ${intToIp(hostFirst)}..${intToIp(hostLast)})`);
    return n;
  };
  const start = addr('activeStart', hostFirst);
  const end = addr('activeEnd', hostLast);
  if (start !== undefined && end !== undefined && start > end) p.add('activeEnd', `${intToIp(end)} is before activeStart ${intToIp(start)}`);
  const time = (field: 'leaseTime' | 'reservedLeaseTime', dflt: number): number => {
    const v = input[field] ?? dflt;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < MIN_LEASE || v > MAX_LEASE) p.add(field, `must be whole seconds between ${MIN_LEASE} and ${MAX_LEASE}`);
    return Number(v);
  };
  const leaseTime = time('leaseTime', 3600);
  const reservedLeaseTime = time('reservedLeaseTime', 7200);
  const bool = (field: 'enabled' | 'proxy' | 'onlyReservations', dflt: boolean): boolean => {
    const v = input[field] ?? dflt;
    if (typeof v !== 'boolean') p.add(field, 'must be true or false');
    return v === true;
  };
  const out: Unstored<Subnet> = {
    name: name ?? '',
    cidr: typeof input.cidr === 'string' ? input.cidr.trim() : '',
    enabled: bool('enabled', true),
    proxy: bool('proxy', false),
    onlyReservations: bool('onlyReservations', false),
    activeStart: start !== undefined ? intToIp(start) : '',
    activeEnd: end !== undefined ? intToIp(end) : '',
    leaseTime,
    reservedLeaseTime,
    nextServer: nextServer(p, input.nextServer),
    options: options(p, input.options),
    description: typeof input.description === 'string' ? input.description : '',
  };
  p.throwIfAny();
  return out;
}

export function normalizeReservation(input: Record<string, unknown>, key: string | undefined): Unstored<Reservation> {
  const address = typeof input.address === 'string' ? input.address : key;
  const p = new Problems(`reservation ${JSON.stringify(address ?? '')}`);
  if (!address || ipToInt(address) === undefined) p.add('address', `${JSON.stringify(address ?? null)} is not an IPv4 address`);
  if (key !== undefined && input.address !== undefined && input.address !== key) p.add('address', `must match ${JSON.stringify(key)}`);
  const mac = typeof input.mac === 'string' ? normalizeMac(input.mac) : undefined;
  if (!mac) p.add('mac', `${JSON.stringify(input.mac ?? null)} is not a MAC address`);
  const out: Unstored<Reservation> = {
    address: address ?? '',
    mac: mac ?? '',
    options: options(p, input.options),
    nextServer: nextServer(p, input.nextServer),
    description: typeof input.description === 'string' ? input.description : '',
  };
  p.throwIfAny();
  return out;
}

export class SubnetService {
  constructor(private readonly deps: CoreDeps) {}

  async get(name: string): Promise<Stored<Subnet>> {
    const s = await this.deps.store.get<Subnet>('subnets', name);
    if (!s) throw notFound('subnet', name);
    return s;
  }

  list(q: ListQuery): Promise<ListResult<Stored<Subnet>>> {
    return this.deps.store.list<Subnet>('subnets', q);
  }

  private async checkOverlap(s: Unstored<Subnet>): Promise<void> {
    const mine = parseCidr(s.cidr)!;
    for (const other of (await this.deps.store.list<Subnet>('subnets')).items) {
      if (other.name === s.name) continue;
      const o = parseCidr(other.cidr);
      if (o && mine.first <= o.last && o.first <= mine.last) {
        throw conflict(`subnet ${JSON.stringify(s.name)}: ${s.cidr} overlaps subnet ${other.name} (${other.cidr})`, { users: [`subnets/${other.name}`], field: 'cidr' });
      }
    }
  }

  async create(input: Record<string, unknown>): Promise<Stored<Subnet>> {
    const s = normalizeSubnet(input, undefined);
    await this.checkOverlap(s);
    const saved = await this.deps.store.put<Subnet>('subnets', s.name, s, { mode: 'create' });
    publishChange(this.deps.bus, 'subnets', 'create', s.name, saved);
    return saved;
  }

  private async write(name: string, build: (cur: Stored<Subnet>) => Unstored<Subnet>, clientVersion?: number): Promise<Stored<Subnet>> {
    const { after } = await updateObject<Subnet>(this.deps.store, 'subnets', name, async (cur) => {
      const next = build(cur);
      await this.checkOverlap(next);
      return next;
    }, clientVersion);
    publishChange(this.deps.bus, 'subnets', 'update', name, after);
    return after;
  }

  replace(name: string, input: Record<string, unknown>): Promise<Stored<Subnet>> {
    const s = normalizeSubnet(input, name);
    return this.write(name, () => s, clientVersionOf(input));
  }

  patch(name: string, body: unknown, kind: 'merge' | 'json' | 'auto'): Promise<Stored<Subnet>> {
    return this.write(name, (cur) => normalizeSubnet(applyPatch(cur, body, kind) as Record<string, unknown>, name));
  }

  async delete(name: string): Promise<Stored<Subnet>> {
    const gone = await this.deps.store.delete<Subnet>('subnets', name);
    if (!gone) throw notFound('subnet', name);
    publishChange(this.deps.bus, 'subnets', 'delete', name, gone);
    return gone;
  }
}

export class ReservationService {
  constructor(private readonly deps: CoreDeps) {}

  async get(address: string): Promise<Stored<Reservation>> {
    const r = await this.deps.store.get<Reservation>('reservations', address);
    if (!r) throw notFound('reservation', address);
    return r;
  }

  list(q: ListQuery): Promise<ListResult<Stored<Reservation>>> {
    return this.deps.store.list<Reservation>('reservations', q);
  }

  async create(input: Record<string, unknown>): Promise<Stored<Reservation>> {
    const r = normalizeReservation(input, undefined);
    const saved = await this.deps.store.put<Reservation>('reservations', r.address, r, { mode: 'create' });
    publishChange(this.deps.bus, 'reservations', 'create', r.address, saved);
    return saved;
  }

  async replace(address: string, input: Record<string, unknown>): Promise<Stored<Reservation>> {
    const r = normalizeReservation(input, address);
    const { after } = await updateObject<Reservation>(this.deps.store, 'reservations', address, () => r, clientVersionOf(input));
    publishChange(this.deps.bus, 'reservations', 'update', address, after);
    return after;
  }

  async patch(address: string, body: unknown, kind: 'merge' | 'json' | 'auto'): Promise<Stored<Reservation>> {
    const { after } = await updateObject<Reservation>(this.deps.store, 'reservations', address, (cur) =>
      normalizeReservation(applyPatch(cur, body, kind) as Record<string, unknown>, address),
    );
    publishChange(this.deps.bus, 'reservations', 'update', address, after);
    return after;
  }

  async delete(address: string): Promise<Stored<Reservation>> {
    const gone = await this.deps.store.delete<Reservation>('reservations', address);
    if (!gone) throw notFound('reservation', address);
    publishChange(this.deps.bus, 'reservations', 'delete', address, gone);
    return gone;
  }
}
