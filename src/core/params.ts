/**
 * Param definitions (a JSON Schema per param name) and the checks and aggregation built on them:
 * values written to machines and profiles are validated against their param's schema, and a machine's
 * effective params are merged machine → its profiles in order → `global` → schema default.
 */
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsImport from 'ajv-formats';
import { FarrierError, conflict, notFound } from '../errors.js';
import type { Machine, Param, Profile } from '../model/types.js';
import type { ListQuery, ListResult, Stored, Unstored } from '../store/store.js';
import { type CoreDeps, clientVersionOf, isPlainObject, publishChange, updateObject } from './common.js';
import { applyListQuery, type ListSpec } from './list.js';
import { applyPatch } from './patch.js';
import { PARAM_NAME_RE, Problems } from './validate.js';

// ajv-formats is CommonJS with a default export; under NodeNext the callable sits on `.default`.
const addFormats = addFormatsImport as unknown as typeof addFormatsImport.default;

export const paramListSpec: ListSpec = { fields: { name: 'string', description: 'string', secure: 'boolean', readOnly: 'boolean' } };

export interface AggregatedParam {
  value: unknown;
  /** `machine`, `profile:<name>`, `global` or `default`. */
  source: string;
  secure: boolean;
}

const schemaChecker = (): Ajv => {
  const ajv = new Ajv({ allErrors: true, strict: false });
  addFormats(ajv);
  return ajv;
};

export function normalizeParam(input: Record<string, unknown>, key: string | undefined, ajv: Ajv = schemaChecker()): Unstored<Param> {
  const name = typeof input.name === 'string' ? input.name : key;
  const p = new Problems(`param ${JSON.stringify(name ?? '')}`);
  if (!name) p.add('name', 'is required');
  else if (!PARAM_NAME_RE.test(name)) p.add('name', 'must start with a letter or digit and hold only letters, digits, ".", "_", "-", "/"');
  if (key !== undefined && input.name !== undefined && input.name !== key) p.add('name', `must match ${JSON.stringify(key)}`);
  const schema = input.schema === undefined ? {} : input.schema;
  if (!isPlainObject(schema)) p.add('schema', 'must be a JSON Schema object');
  else {
    try {
      const validate = ajv.compile(schema);
      if (schema.default !== undefined && !validate(schema.default)) p.add('schema/default', `does not match the schema: ${ajv.errorsText(validate.errors)}`);
    } catch (err) {
      p.add('schema', `is not a valid JSON Schema: ${(err as Error).message}`);
    }
  }
  if (input.secure !== undefined && typeof input.secure !== 'boolean') p.add('secure', 'must be true or false');
  p.throwIfAny();
  return { name: name!, schema: schema as Record<string, unknown>, description: typeof input.description === 'string' ? input.description : '', secure: input.secure === true, readOnly: false };
}

export class ParamService {
  private readonly ajv: Ajv;
  /** Compiled value validators by param name, reused while the schema text is unchanged. */
  private readonly compiled = new Map<string, { schema: string; fn: ValidateFunction }>();

  constructor(private readonly deps: CoreDeps, private readonly shipped: Map<string, Stored<Param>> = new Map()) {
    this.ajv = schemaChecker();
  }

  async get(name: string): Promise<Stored<Param>> {
    const p = this.shipped.get(name) ?? (await this.deps.store.get<Param>('params', name));
    if (!p) throw notFound('param', name);
    return p;
  }

  async list(q: ListQuery): Promise<ListResult<Stored<Param>>> {
    return applyListQuery([...(await this.all()).values()], (p) => p.name, q);
  }

  /** All definitions by name, shipped and stored (for aggregation and bulk checks). */
  async all(): Promise<Map<string, Stored<Param>>> {
    const { items } = await this.deps.store.list<Param>('params');
    return new Map([...this.shipped, ...items.map((p) => [p.name, { ...p, readOnly: false }] as const)]);
  }

  private refuseShipped(name: string): void {
    if (this.shipped.has(name)) {
      throw new FarrierError('FORBIDDEN', `param ${JSON.stringify(name)} is shipped read-only with Farrier (bootenvs/params); its schema cannot be changed through the API`);
    }
  }

  async create(input: Record<string, unknown>): Promise<Stored<Param>> {
    const p = normalizeParam(input, undefined, this.ajv);
    if (this.shipped.has(p.name)) throw conflict(`param ${JSON.stringify(p.name)} already exists (shipped read-only)`);
    const saved = await this.deps.store.put<Param>('params', p.name, p, { mode: 'create' });
    publishChange(this.deps.bus, 'params', 'create', p.name, saved);
    return saved;
  }

  async replace(name: string, input: Record<string, unknown>): Promise<Stored<Param>> {
    this.refuseShipped(name);
    const p = normalizeParam(input, name, this.ajv);
    const { after } = await updateObject<Param>(this.deps.store, 'params', name, () => p, clientVersionOf(input));
    publishChange(this.deps.bus, 'params', 'update', name, after);
    return after;
  }

  async patch(name: string, body: unknown, kind: 'merge' | 'json' | 'auto'): Promise<Stored<Param>> {
    this.refuseShipped(name);
    const { after } = await updateObject<Param>(this.deps.store, 'params', name, (cur) =>
      normalizeParam(applyPatch(cur, body, kind) as Record<string, unknown>, name, this.ajv),
    );
    publishChange(this.deps.bus, 'params', 'update', name, after);
    return after;
  }

  async delete(name: string): Promise<Stored<Param>> {
    this.refuseShipped(name);
    const gone = await this.deps.store.delete<Param>('params', name);
    if (!gone) throw notFound('param', name);
    this.compiled.delete(name);
    publishChange(this.deps.bus, 'params', 'delete', name, gone);
    return gone;
  }

  private validatorFor(def: Stored<Param>): ValidateFunction {
    const schema = JSON.stringify(def.schema);
    const hit = this.compiled.get(def.name);
    if (hit && hit.schema === schema) return hit.fn;
    const fn = this.ajv.compile(def.schema);
    this.compiled.set(def.name, { schema, fn });
    return fn;
  }

  /**
   * Validates each value that has a param definition (values of undefined params are free-form).
   * Throws 422 naming every bad param; `where` names the owner, e.g. `machine "n1"`.
   */
  async validateValues(values: Record<string, unknown>, where: string, fieldPrefix = 'params/'): Promise<void> {
    const defs = await this.all();
    const p = new Problems(`${where}: invalid param value`);
    for (const [name, value] of Object.entries(values)) {
      if (!PARAM_NAME_RE.test(name)) {
        p.add(`${fieldPrefix}${name}`, 'is not a valid param name');
        continue;
      }
      const def = defs.get(name);
      if (!def) continue;
      const validate = this.validatorFor(def);
      if (!validate(value)) p.add(`${fieldPrefix}${name}`, `param ${name}: ${this.ajv.errorsText(validate.errors, { dataVar: 'value' })}`);
    }
    p.throwIfAny();
  }

  /**
   * The machine's effective params with the source of each value. `profiles` maps profile names to
   * profiles (the machine's and `global`); missing profiles are skipped (the machine reports them).
   */
  aggregateWith(machine: Pick<Machine, 'params' | 'profiles'>, profiles: Map<string, Profile>, defs: Map<string, Param>): Record<string, AggregatedParam> {
    const out: Record<string, AggregatedParam> = {};
    const layer = (values: Record<string, unknown>, source: string): void => {
      for (const [k, v] of Object.entries(values)) {
        if (!(k in out)) out[k] = { value: v, source, secure: defs.get(k)?.secure ?? false };
      }
    };
    layer(machine.params, 'machine');
    for (const name of machine.profiles) {
      const prof = profiles.get(name);
      if (prof && name !== 'global') layer(prof.params, `profile:${name}`);
    }
    const global = profiles.get('global');
    if (global) layer(global.params, 'global');
    for (const def of defs.values()) {
      if (!(def.name in out) && def.schema.default !== undefined) out[def.name] = { value: def.schema.default, source: 'default', secure: def.secure };
    }
    return out;
  }

  /** Loads the machine's profiles and all definitions, then aggregates. */
  async aggregate(machine: Pick<Machine, 'params' | 'profiles'>): Promise<Record<string, AggregatedParam>> {
    const profiles = new Map<string, Profile>();
    for (const name of new Set([...machine.profiles, 'global'])) {
      const prof = await this.deps.store.get<Profile>('profiles', name);
      if (prof) profiles.set(name, prof);
    }
    return this.aggregateWith(machine, profiles, await this.all());
  }
}

/** The param-map sub-resource operations shared by machines and profiles. */
export function editParams(
  current: Record<string, unknown>,
  op: { kind: 'replace'; values: unknown } | { kind: 'patch'; body: unknown; patch: 'merge' | 'json' | 'auto' } | { kind: 'set'; name: string; value: unknown } | { kind: 'delete'; name: string },
): Record<string, unknown> {
  switch (op.kind) {
    case 'replace':
      if (!isPlainObject(op.values)) throw new FarrierError('VALIDATION', 'params must be a JSON object', [{ field: 'params', message: 'must be an object' }]);
      return { ...op.values };
    case 'patch': {
      const next = applyPatch(current, op.body, op.patch);
      if (!isPlainObject(next)) throw new FarrierError('VALIDATION', 'the patched params must be a JSON object', [{ field: 'params', message: 'must be an object' }]);
      return next;
    }
    case 'set':
      return { ...current, [op.name]: op.value };
    case 'delete': {
      if (!(op.name in current)) throw notFound('param value', op.name);
      const { [op.name]: _removed, ...rest } = current;
      return rest;
    }
  }
}
