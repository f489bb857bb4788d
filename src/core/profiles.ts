/**
 * Profiles: named param sets that machines list in order. Profile `global` always exists (created at start
 * when missing), applies to every machine after its own profiles, and cannot be deleted.
 */
import { conflict, notFound } from '../errors.js';
import type { Profile } from '../model/types.js';
import type { ListQuery, ListResult, Stored, Unstored } from '../store/store.js';
import { type CoreDeps, clientVersionOf, isPlainObject, publishChange, updateObject } from './common.js';
import type { ListSpec } from './list.js';
import { editParams, type ParamService } from './params.js';
import { applyPatch } from './patch.js';
import { NAME_RE, Problems } from './validate.js';

export const profileListSpec: ListSpec = { fields: { name: 'string', description: 'string', params: 'object' }, params: true };

export const GLOBAL_PROFILE = 'global';

export function normalizeProfile(input: Record<string, unknown>, key: string | undefined): Unstored<Profile> {
  const name = typeof input.name === 'string' ? input.name : key;
  const p = new Problems(`profile ${JSON.stringify(name ?? '')}`);
  if (!name) p.add('name', 'is required');
  else if (!NAME_RE.test(name)) p.add('name', 'must start with a letter or digit and hold only letters, digits, ".", "_", "-"');
  if (key !== undefined && input.name !== undefined && input.name !== key) p.add('name', `must match ${JSON.stringify(key)}`);
  if (input.params !== undefined && !isPlainObject(input.params)) p.add('params', 'must be an object');
  p.throwIfAny();
  return { name: name!, params: isPlainObject(input.params) ? input.params : {}, description: typeof input.description === 'string' ? input.description : '' };
}

export class ProfileService {
  constructor(private readonly deps: CoreDeps, private readonly params: ParamService) {}

  async ensureGlobal(): Promise<void> {
    if (await this.deps.store.get<Profile>('profiles', GLOBAL_PROFILE)) return;
    try {
      await this.deps.store.put<Profile>('profiles', GLOBAL_PROFILE, { name: GLOBAL_PROFILE, params: {}, description: 'Params for every machine (after its own profiles).' }, { mode: 'create' });
    } catch (err) {
      // Another process created it first: that is the state we want.
      if (!(await this.deps.store.get<Profile>('profiles', GLOBAL_PROFILE))) throw err;
    }
  }

  async get(name: string): Promise<Stored<Profile>> {
    const p = await this.deps.store.get<Profile>('profiles', name);
    if (!p) throw notFound('profile', name);
    return p;
  }

  list(q: ListQuery): Promise<ListResult<Stored<Profile>>> {
    return this.deps.store.list<Profile>('profiles', q);
  }

  async create(input: Record<string, unknown>): Promise<Stored<Profile>> {
    const prof = normalizeProfile(input, undefined);
    await this.params.validateValues(prof.params, `profile ${JSON.stringify(prof.name)}`);
    const saved = await this.deps.store.put<Profile>('profiles', prof.name, prof, { mode: 'create' });
    publishChange(this.deps.bus, 'profiles', 'create', prof.name, saved);
    return saved;
  }

  private async write(name: string, build: (cur: Stored<Profile>) => Unstored<Profile>, clientVersion?: number): Promise<Stored<Profile>> {
    const { after } = await updateObject<Profile>(this.deps.store, 'profiles', name, async (cur) => {
      const next = build(cur);
      await this.params.validateValues(next.params, `profile ${JSON.stringify(name)}`);
      return next;
    }, clientVersion);
    publishChange(this.deps.bus, 'profiles', 'update', name, after);
    return after;
  }

  replace(name: string, input: Record<string, unknown>): Promise<Stored<Profile>> {
    const prof = normalizeProfile(input, name);
    return this.write(name, () => prof, clientVersionOf(input));
  }

  patch(name: string, body: unknown, kind: 'merge' | 'json' | 'auto'): Promise<Stored<Profile>> {
    return this.write(name, (cur) => normalizeProfile(applyPatch(cur, body, kind) as Record<string, unknown>, name));
  }

  async editParams(name: string, op: Parameters<typeof editParams>[1]): Promise<Stored<Profile>> {
    return this.write(name, (cur) => ({ name: cur.name, description: cur.description, params: editParams(cur.params, op) }));
  }

  async delete(name: string): Promise<Stored<Profile>> {
    if (name === GLOBAL_PROFILE) throw conflict('profile "global" always exists and cannot be deleted; clear its params instead');
    const gone = await this.deps.store.delete<Profile>('profiles', name, { blockedBy: [{ kind: 'machines', path: ['profiles'] }] });
    if (!gone) throw notFound('profile', name);
    publishChange(this.deps.bus, 'profiles', 'delete', name, gone);
    return gone;
  }
}
