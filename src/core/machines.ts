/**
 * Machines: identity (server-assigned uuid, unique name and MACs), what they boot, their params.
 * `available`/`errors` are computed on read (bootenv present and available, required params present,
 * profiles present). Lookups by uuid, `name:<name>` or `mac:<mac>`.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { FarrierError, notFound } from '../errors.js';
import type { Machine, Param, Profile } from '../model/types.js';
import type { ListQuery, ListResult, Stored, Unstored } from '../store/store.js';
import type { BootEnvService } from './bootenvs.js';
import { type CoreDeps, clientVersionOf, isPlainObject, publishChange, updateObject } from './common.js';
import type { ListSpec } from './list.js';
import { editParams, type ParamService } from './params.js';
import { applyPatch } from './patch.js';
import type { PrefsService } from './prefs.js';
import { NAME_RE, Problems, ipToInt, normalizeMac } from './validate.js';

/** What one list call looks up once and shares across its machines' status. */
interface ListCache {
  profiles: Map<string, Profile>;
  defs: Map<string, Param>;
  bootenvs: Map<string, ReturnType<BootEnvService['find']>>;
}

export const machineListSpec: ListSpec = {
  fields: { uuid: 'string', name: 'string', macs: 'array', address: 'string', arch: 'string', bootenv: 'string', profiles: 'array', description: 'string', available: 'boolean', params: 'object' },
  aliases: { mac: 'macs', profile: 'profiles' },
  params: true,
};

/** A machine as the API shows it: no token secret. */
export type PublicMachine = Omit<Stored<Machine>, 'tokenSecret'>;

export const toPublic = (m: Stored<Machine>): PublicMachine => {
  const { tokenSecret: _secret, ...rest } = m;
  return rest;
};

const newTokenSecret = (): string => randomBytes(24).toString('base64url');

export function normalizeMachine(input: Record<string, unknown>, fallback: { bootenv: string }): Omit<Unstored<Machine>, 'uuid' | 'tokenSecret'> {
  const p = new Problems(`machine ${JSON.stringify(typeof input.name === 'string' ? input.name : '')}`);
  const name = input.name;
  if (typeof name !== 'string' || name === '') p.add('name', 'is required');
  else if (!NAME_RE.test(name)) p.add('name', 'must start with a letter or digit and hold only letters, digits, ".", "_", "-"');
  const macs: string[] = [];
  if (input.macs !== undefined && !Array.isArray(input.macs)) p.add('macs', 'must be a list of MAC addresses');
  (Array.isArray(input.macs) ? input.macs : []).forEach((raw: unknown, i) => {
    const mac = typeof raw === 'string' ? normalizeMac(raw) : undefined;
    if (!mac) p.add(`macs/${i}`, `${JSON.stringify(raw)} is not a MAC address (use aa:bb:cc:dd:ee:ff, aa-bb-…, aabb.ccdd.eeff or aabbccddeeff)`);
    else if (macs.includes(mac)) p.add(`macs/${i}`, `${mac} is listed twice`);
    else macs.push(mac);
  });
  const address = input.address ?? null;
  if (address !== null && (typeof address !== 'string' || ipToInt(address) === undefined)) p.add('address', `${JSON.stringify(address)} is not an IPv4 address`);
  const arch = input.arch ?? 'amd64';
  if (arch !== 'amd64' && arch !== 'arm64') p.add('arch', 'must be amd64 or arm64');
  const bootenv = input.bootenv ?? fallback.bootenv;
  if (typeof bootenv !== 'string' || bootenv === '') p.add('bootenv', 'must be a bootenv name');
  const profiles: string[] = [];
  if (input.profiles !== undefined && !Array.isArray(input.profiles)) p.add('profiles', 'must be a list of profile names');
  (Array.isArray(input.profiles) ? input.profiles : []).forEach((raw: unknown, i) => {
    if (typeof raw !== 'string' || !NAME_RE.test(raw)) p.add(`profiles/${i}`, 'is not a profile name');
    else if (profiles.includes(raw)) p.add(`profiles/${i}`, `${raw} is listed twice`);
    else profiles.push(raw);
  });
  if (input.params !== undefined && !isPlainObject(input.params)) p.add('params', 'must be an object');
  if (input.description !== undefined && typeof input.description !== 'string') p.add('description', 'must be a string');
  p.throwIfAny();
  return {
    name: name as string,
    macs,
    address: address as string | null,
    arch: arch as Machine['arch'],
    bootenv: bootenv as string,
    profiles,
    params: isPlainObject(input.params) ? input.params : {},
    description: typeof input.description === 'string' ? input.description : '',
    available: true,
    errors: [],
  };
}

type MachineBody = Omit<Unstored<Machine>, 'uuid' | 'tokenSecret'>;

export class MachineService {
  /** setAddress calls run one at a time so two machines never end up holding one address. */
  private addressChain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly deps: CoreDeps,
    private readonly bootenvs: BootEnvService,
    private readonly params: ParamService,
    private readonly prefs: PrefsService,
  ) {}

  /** The stored machine (with its token secret) for uuid | name:<name> | mac:<mac>, or undefined. */
  async findRaw(key: string): Promise<Stored<Machine> | undefined> {
    if (key.startsWith('name:')) return this.deps.store.findOne<Machine>('machines', [{ path: ['name'], value: key.slice(5) }]);
    if (key.startsWith('mac:')) {
      const mac = normalizeMac(key.slice(4));
      return mac ? this.deps.store.findOne<Machine>('machines', [{ path: ['macs'], value: mac }]) : undefined;
    }
    return this.deps.store.get<Machine>('machines', key);
  }

  async resolveRaw(key: string): Promise<Stored<Machine>> {
    const m = await this.findRaw(key);
    if (!m) throw notFound('machine', key);
    return m;
  }

  /** Computes available/errors against the current bootenvs, profiles and param definitions. */
  async withStatus(m: Stored<Machine>, cache?: ListCache): Promise<PublicMachine> {
    const errors: string[] = [];
    const profiles = cache?.profiles ?? new Map<string, Profile>();
    if (!cache) {
      for (const name of new Set([...m.profiles, 'global'])) {
        const prof = await this.deps.store.get<Profile>('profiles', name);
        if (prof) profiles.set(name, prof);
      }
    }
    for (const name of m.profiles) if (!profiles.has(name)) errors.push(`profile ${name} does not exist`);
    const env = await (cache ? this.bootenvOnce(cache.bootenvs, m.bootenv) : this.bootenvs.find(m.bootenv));
    if (!env) errors.push(`bootenv ${m.bootenv} does not exist`);
    else {
      if (!env.available) errors.push(`bootenv ${m.bootenv} is not available: ${env.errors.join('; ')}`);
      const agg = this.params.aggregateWith(m, profiles, cache?.defs ?? (await this.params.all()));
      const missing = env.requiredParams.filter((r) => !(r in agg));
      if (missing.length > 0) errors.push(`bootenv ${m.bootenv} requires params ${missing.join(', ')}`);
    }
    return toPublic({ ...m, available: errors.length === 0, errors });
  }

  /** A bootenv's status (its files checked on disk) once per list, not once per machine. */
  private bootenvOnce(seen: ListCache['bootenvs'], name: string): ReturnType<BootEnvService['find']> {
    let env = seen.get(name);
    if (!env) {
      env = this.bootenvs.find(name);
      seen.set(name, env);
    }
    return env;
  }

  async get(key: string): Promise<PublicMachine> {
    return this.withStatus(await this.resolveRaw(key));
  }

  async list(q: ListQuery): Promise<ListResult<PublicMachine>> {
    const res = await this.deps.store.list<Machine>('machines', q);
    const profiles = new Map((await this.deps.store.list<Profile>('profiles')).items.map((p) => [p.name, p] as const));
    const defs = await this.params.all();
    const cache: ListCache = { profiles, defs, bootenvs: new Map() };
    return { total: res.total, items: await Promise.all(res.items.map((m) => this.withStatus(m, cache))) };
  }

  /** References, param values and — when the bootenv changes — the bootenv's required params. */
  private async check(body: MachineBody, previousBootEnv: string | undefined): Promise<void> {
    const p = new Problems(`machine ${JSON.stringify(body.name)}`);
    const env = await this.bootenvs.find(body.bootenv);
    if (!env) p.add('bootenv', `bootenv ${JSON.stringify(body.bootenv)} does not exist`);
    else if (env.onlyUnknown) p.add('bootenv', `bootenv ${JSON.stringify(body.bootenv)} is only for unknown machines`);
    for (const [i, name] of body.profiles.entries()) {
      if (!(await this.deps.store.get<Profile>('profiles', name))) p.add(`profiles/${i}`, `profile ${JSON.stringify(name)} does not exist`);
    }
    p.throwIfAny();
    await this.params.validateValues(body.params, `machine ${JSON.stringify(body.name)}`);
    if (env && env.requiredParams.length > 0 && body.bootenv !== previousBootEnv) {
      const agg = await this.params.aggregate(body);
      const missing = env.requiredParams.filter((r) => !(r in agg));
      if (missing.length > 0) {
        throw new FarrierError('VALIDATION', `machine ${JSON.stringify(body.name)}: bootenv ${body.bootenv} requires params the machine lacks: ${missing.join(', ')}`,
          missing.map((m) => ({ field: `params/${m}`, message: `required by bootenv ${body.bootenv}` })), { missing });
      }
    }
  }

  async create(input: Record<string, unknown>): Promise<PublicMachine> {
    const prefs = await this.prefs.getPrefs();
    const body = normalizeMachine(input, { bootenv: prefs.defaultBootEnv });
    await this.check(body, undefined);
    const uuid = randomUUID();
    const saved = await this.deps.store.put<Machine>('machines', uuid, { ...body, uuid, tokenSecret: newTokenSecret() }, { mode: 'create' });
    const out = await this.withStatus(saved);
    this.deps.logger.info({ uuid, mac: out.macs[0], name: out.name }, 'machine created');
    publishChange(this.deps.bus, 'machines', 'create', uuid, out);
    return out;
  }

  /** Shared write path: build the next body from the current machine, check it, store it, publish. */
  private async write(key: string, build: (cur: Stored<Machine>) => MachineBody, clientVersion?: number): Promise<PublicMachine> {
    const uuid = (await this.resolveRaw(key)).uuid;
    const { after } = await updateObject<Machine>(this.deps.store, 'machines', uuid, async (cur) => {
      const body = build(cur);
      await this.check(body, cur.bootenv);
      return { ...body, uuid, tokenSecret: cur.tokenSecret ?? newTokenSecret() };
    }, clientVersion);
    const out = await this.withStatus(after);
    publishChange(this.deps.bus, 'machines', 'update', uuid, out);
    return out;
  }

  private static bodyOf(m: Stored<Machine>): Record<string, unknown> {
    const { uuid: _u, tokenSecret: _t, createdAt: _c, updatedAt: _up, version: _v, ...rest } = m;
    return rest;
  }

  replace(key: string, input: Record<string, unknown>): Promise<PublicMachine> {
    return this.write(key, (cur) => {
      if (input.uuid !== undefined && input.uuid !== cur.uuid) {
        throw new FarrierError('VALIDATION', `machine ${cur.name}: uuid cannot be changed`, [{ field: 'uuid', message: 'cannot be changed' }]);
      }
      return normalizeMachine(input, { bootenv: cur.bootenv });
    }, clientVersionOf(input));
  }

  patch(key: string, body: unknown, kind: 'merge' | 'json' | 'auto'): Promise<PublicMachine> {
    return this.write(key, (cur) => {
      const next = applyPatch(toPublic(cur), body, kind) as Record<string, unknown>;
      if (next.uuid !== cur.uuid) throw new FarrierError('VALIDATION', `machine ${cur.name}: uuid cannot be changed`, [{ field: 'uuid', message: 'cannot be changed' }]);
      return normalizeMachine(next, { bootenv: cur.bootenv });
    });
  }

  setBootEnv(key: string, bootenv: string): Promise<PublicMachine> {
    return this.write(key, (cur) => normalizeMachine({ ...MachineService.bodyOf(cur), bootenv }, { bootenv }));
  }

  editParams(key: string, op: Parameters<typeof editParams>[1]): Promise<PublicMachine> {
    return this.write(key, (cur) => normalizeMachine({ ...MachineService.bodyOf(cur), params: editParams(cur.params, op) }, { bootenv: cur.bootenv }));
  }

  /** New token secret: every token minted for this machine stops working. */
  async rotateTokenSecret(key: string): Promise<PublicMachine> {
    const uuid = (await this.resolveRaw(key)).uuid;
    const { after } = await updateObject<Machine>(this.deps.store, 'machines', uuid, (cur) => ({ ...cur, tokenSecret: newTokenSecret() }));
    this.deps.logger.info({ uuid, mac: after.macs[0] }, 'machine token secret rotated');
    const out = await this.withStatus(after);
    publishChange(this.deps.bus, 'machines', 'update', uuid, out);
    return out;
  }

  async delete(key: string): Promise<PublicMachine> {
    const m = await this.resolveRaw(key);
    const gone = await this.deps.store.delete<Machine>('machines', m.uuid);
    if (!gone) throw notFound('machine', key);
    const out = toPublic(gone);
    publishChange(this.deps.bus, 'machines', 'delete', m.uuid, out);
    return out;
  }

  /** For DHCP/boot layers: the machine owning this MAC (any spelling), or undefined. */
  async byMac(mac: string): Promise<PublicMachine | undefined> {
    const m = await this.findRaw(`mac:${mac}`);
    return m ? this.withStatus(m) : undefined;
  }

  async byAddress(ip: string): Promise<PublicMachine | undefined> {
    const m = await this.deps.store.findOne<Machine>('machines', [{ path: ['address'], value: ip }]);
    return m ? this.withStatus(m) : undefined;
  }

  /**
   * A bound DHCP lease gives the machine with this MAC its address; any other machine recorded with that
   * address loses it first. Returns the updated machine, or undefined for an unknown MAC.
   */
  setAddress(mac: string, ip: string): Promise<PublicMachine | undefined> {
    const run = async (): Promise<PublicMachine | undefined> => {
      const m = await this.findRaw(`mac:${mac}`);
      if (!m) return undefined;
      if (m.address === ip) return this.withStatus(m);
      const holders = await this.deps.store.list<Machine>('machines', { filters: [{ path: ['address'], value: ip }] });
      for (const other of holders.items) {
        if (other.uuid === m.uuid) continue;
        const { after } = await updateObject<Machine>(this.deps.store, 'machines', other.uuid, (cur) => ({ ...cur, address: cur.address === ip ? null : cur.address }));
        this.deps.logger.info({ uuid: other.uuid, mac: other.macs[0], address: ip }, 'address moved to another machine');
        publishChange(this.deps.bus, 'machines', 'update', other.uuid, toPublic(after));
      }
      const { after } = await updateObject<Machine>(this.deps.store, 'machines', m.uuid, (cur) => ({ ...cur, address: ip }));
      this.deps.logger.info({ uuid: m.uuid, mac, address: ip }, 'machine address set from DHCP');
      const out = await this.withStatus(after);
      publishChange(this.deps.bus, 'machines', 'update', m.uuid, out);
      return out;
    };
    const next = this.addressChain.then(run, run);
    this.addressChain = next.catch(() => undefined);
    return next;
  }
}
