/**
 * Bootenvs: what a machine boots. Stored ones are API-created; shipped ones (repo bootenvs/) are read-only.
 * `available`/`errors` are computed on read: referenced templates must exist, and later layers (boot files:
 * kernel/ISO present) add their own checks through `addCheck`.
 */
import { FarrierError, conflict, notFound } from '../errors.js';
import type { BootEnv, BootEnvTemplate, ConfigInitrdFile, OsInfo } from '../model/types.js';
import type { ListQuery, ListResult, Stored, Unstored } from '../store/store.js';
import { type CoreDeps, clientVersionOf, isPlainObject, publishChange, updateObject } from './common.js';
import type { RepoContent } from './content.js';
import { applyListQuery, type ListSpec } from './list.js';
import { applyPatch } from './patch.js';
import { handlebarsError } from './templates.js';
import { NAME_RE, PARAM_NAME_RE, Problems } from './validate.js';

export const bootEnvListSpec: ListSpec = {
  fields: { name: 'string', description: 'string', kernel: 'string', onlyUnknown: 'boolean', available: 'boolean', readOnly: 'boolean', loader: 'string', netboot: 'boolean', requiredParams: 'array', optionalParams: 'array', initrds: 'array' },
};

/** A later layer's availability check: returns problems (e.g. "kernel vmlinuz not found"), empty when fine. */
export type BootEnvCheck = (env: Stored<BootEnv>) => string[];

const strings = (p: Problems, field: string, v: unknown, re?: RegExp): string[] => {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) {
    p.add(field, 'must be a list of strings');
    return [];
  }
  if (re) v.forEach((s: string, i) => { if (!re.test(s)) p.add(`${field}/${i}`, `${JSON.stringify(s)} is not a valid name`); });
  return v as string[];
};

/** The config initrd's files: archive path, one of the bootenv's template names, optional mode bits. */
function configInitrdFiles(p: Problems, raw: unknown, templateNames: Set<string>): ConfigInitrdFile[] {
  if (!Array.isArray(raw)) {
    p.add('configInitrd', 'must be a list of {path, template, mode?}');
    return [];
  }
  const out: ConfigInitrdFile[] = [];
  raw.forEach((item: unknown, i) => {
    const f = `configInitrd/${i}`;
    if (!isPlainObject(item)) return p.add(f, 'must be an object');
    const { path, template, mode } = item;
    if (typeof path !== 'string' || path === '') p.add(`${f}/path`, 'is required');
    if (typeof template !== 'string' || template === '') p.add(`${f}/template`, 'is required');
    else if (!templateNames.has(template)) p.add(`${f}/template`, `names no template of this bootenv (${[...templateNames].join(', ') || 'it has none'})`);
    if (mode !== undefined && (!Number.isInteger(mode) || (mode as number) < 0 || (mode as number) > 0o7777)) p.add(`${f}/mode`, 'must be an integer 0..4095 (e.g. 420 for 0644)');
    const file: ConfigInitrdFile = { path: String(path ?? ''), template: String(template ?? '') };
    if (typeof mode === 'number') file.mode = mode;
    out.push(file);
  });
  return out;
}

/** Structural validation and defaults (no store access); `key` is the URL key or the shipped file's name. */
export function normalizeBootEnv(input: Record<string, unknown>, key: string | undefined): Unstored<BootEnv> {
  const name = typeof input.name === 'string' ? input.name : key;
  const p = new Problems(`bootenv ${JSON.stringify(name ?? '')}`);
  if (!name) p.add('name', 'is required');
  else if (!NAME_RE.test(name)) p.add('name', 'must start with a letter or digit and hold only letters, digits, ".", "_", "-"');
  if (key !== undefined && input.name !== undefined && input.name !== key) p.add('name', `must match ${JSON.stringify(key)}`);
  const str = (field: string): string => {
    const v = input[field];
    if (v === undefined || v === null) return '';
    if (typeof v !== 'string') p.add(field, 'must be a string');
    return typeof v === 'string' ? v : '';
  };
  const os: OsInfo = isPlainObject(input.os) ? ({ ...input.os } as unknown as OsInfo) : { name: name ?? '' };
  if (input.os !== undefined && (!isPlainObject(input.os) || typeof input.os.name !== 'string' || input.os.name === '')) p.add('os/name', 'is required');
  const bootParams = str('bootParams');
  const bpErr = handlebarsError(bootParams);
  if (bpErr) p.add('bootParams', `does not parse: ${bpErr}`);
  const templates: BootEnvTemplate[] = [];
  if (input.templates !== undefined && !Array.isArray(input.templates)) p.add('templates', 'must be a list');
  const seen = new Set<string>();
  (Array.isArray(input.templates) ? input.templates : []).forEach((raw: unknown, i) => {
    const f = `templates/${i}`;
    if (!isPlainObject(raw)) return p.add(f, 'must be an object');
    const t = raw as Partial<BootEnvTemplate>;
    if (typeof t.name !== 'string' || t.name === '') p.add(`${f}/name`, 'is required');
    else if (seen.has(t.name)) p.add(`${f}/name`, `duplicate template name ${JSON.stringify(t.name)}`);
    else seen.add(t.name);
    if (typeof t.path !== 'string' || t.path === '') p.add(`${f}/path`, 'is required');
    else {
      const e = handlebarsError(t.path);
      if (e) p.add(`${f}/path`, `does not parse: ${e}`);
    }
    const hasId = typeof t.templateId === 'string' && t.templateId !== '';
    const hasContents = typeof t.contents === 'string';
    if (hasId === hasContents) p.add(f, 'needs exactly one of templateId and contents');
    if (hasContents) {
      const e = handlebarsError(t.contents!);
      if (e) p.add(`${f}/contents`, `does not parse: ${e}`);
    }
    const out: BootEnvTemplate = { name: String(t.name ?? ''), path: String(t.path ?? '') };
    if (hasId) out.templateId = t.templateId;
    if (hasContents) out.contents = t.contents;
    templates.push(out);
  });
  const env: Unstored<BootEnv> = {
    name: name ?? '',
    description: str('description'),
    os,
    kernel: str('kernel'),
    initrds: strings(p, 'initrds', input.initrds),
    bootParams,
    templates,
    requiredParams: strings(p, 'requiredParams', input.requiredParams, PARAM_NAME_RE),
    optionalParams: strings(p, 'optionalParams', input.optionalParams, PARAM_NAME_RE),
    onlyUnknown: input.onlyUnknown === true,
    available: true,
    errors: [],
    readOnly: false,
  };
  if (input.onlyUnknown !== undefined && typeof input.onlyUnknown !== 'boolean') p.add('onlyUnknown', 'must be true or false');
  if (input.loader !== undefined) {
    if (input.loader !== 'ipxe' && input.loader !== 'pxelinux' && input.loader !== 'grub') p.add('loader', 'must be ipxe, pxelinux or grub');
    else env.loader = input.loader;
  }
  if (input.netboot !== undefined) {
    if (typeof input.netboot !== 'boolean') p.add('netboot', 'must be true or false');
    else env.netboot = input.netboot;
  }
  if (input.configInitrd !== undefined) env.configInitrd = configInitrdFiles(p, input.configInitrd, seen);
  p.throwIfAny();
  return env;
}

export interface PrefsReader {
  getPrefs(): Promise<Record<string, unknown>>;
}

export class BootEnvService {
  private readonly checks: BootEnvCheck[] = [];

  constructor(
    private readonly deps: CoreDeps,
    private readonly repo: RepoContent,
    private readonly templateExists: (id: string) => Promise<boolean>,
    private readonly prefs: PrefsReader,
  ) {}

  /** Lets the boot-file layer mark bootenvs unavailable (missing kernel, ISO not exploded …). */
  addCheck(check: BootEnvCheck): void {
    this.checks.push(check);
  }

  private async withStatus(env: Stored<BootEnv>): Promise<Stored<BootEnv>> {
    const errors: string[] = [];
    for (const t of env.templates) {
      if (t.templateId !== undefined && !(await this.templateExists(t.templateId))) errors.push(`template ${t.name}: templateId ${JSON.stringify(t.templateId)} does not exist`);
    }
    for (const check of this.checks) errors.push(...check(env));
    return { ...env, available: errors.length === 0, errors };
  }

  /** The bootenv, or undefined (no error) — for existence checks by other services. */
  async find(name: string): Promise<Stored<BootEnv> | undefined> {
    const env = this.repo.bootenvs.get(name) ?? (await this.deps.store.get<BootEnv>('bootenvs', name));
    return env ? this.withStatus(env) : undefined;
  }

  async get(name: string): Promise<Stored<BootEnv>> {
    const env = await this.find(name);
    if (!env) throw notFound('bootenv', name);
    return env;
  }

  async list(q: ListQuery): Promise<ListResult<Stored<BootEnv>>> {
    const stored = await this.deps.store.list<BootEnv>('bootenvs');
    const all = await Promise.all([...this.repo.bootenvs.values(), ...stored.items].map((e) => this.withStatus(e)));
    return applyListQuery(all, (e) => e.name, q);
  }

  /** Stored and shipped bootenvs that reference template `id`, as `bootenvs/<name>`. */
  async templateUsers(id: string): Promise<string[]> {
    const stored = await this.deps.store.list<BootEnv>('bootenvs');
    return [...this.repo.bootenvs.values(), ...stored.items]
      .filter((e) => e.templates.some((t) => t.templateId === id))
      .map((e) => `bootenvs/${e.name}`);
  }

  private async checkRefs(env: Unstored<BootEnv>): Promise<void> {
    const p = new Problems(`bootenv ${JSON.stringify(env.name)}`);
    for (const [i, t] of env.templates.entries()) {
      if (t.templateId !== undefined && !(await this.templateExists(t.templateId))) p.add(`templates/${i}/templateId`, `template ${JSON.stringify(t.templateId)} does not exist`);
    }
    p.throwIfAny();
  }

  private refuseShipped(name: string): void {
    if (this.repo.bootenvs.has(name)) {
      throw new FarrierError('FORBIDDEN', `bootenv ${JSON.stringify(name)} is shipped read-only with Farrier; create a copy under another name instead`);
    }
  }

  async create(input: Record<string, unknown>): Promise<Stored<BootEnv>> {
    const env = normalizeBootEnv(input, undefined);
    if (this.repo.bootenvs.has(env.name)) throw conflict(`bootenv ${JSON.stringify(env.name)} already exists (shipped read-only)`);
    await this.checkRefs(env);
    const saved = await this.withStatus(await this.deps.store.put<BootEnv>('bootenvs', env.name, env, { mode: 'create' }));
    publishChange(this.deps.bus, 'bootenvs', 'create', env.name, saved);
    return saved;
  }

  async replace(name: string, input: Record<string, unknown>): Promise<Stored<BootEnv>> {
    this.refuseShipped(name);
    const env = normalizeBootEnv(input, name);
    await this.checkRefs(env);
    const { after } = await updateObject<BootEnv>(this.deps.store, 'bootenvs', name, () => env, clientVersionOf(input));
    const out = await this.withStatus(after);
    publishChange(this.deps.bus, 'bootenvs', 'update', name, out);
    return out;
  }

  async patch(name: string, body: unknown, kind: 'merge' | 'json' | 'auto'): Promise<Stored<BootEnv>> {
    this.refuseShipped(name);
    const { after } = await updateObject<BootEnv>(this.deps.store, 'bootenvs', name, async (cur) => {
      const env = normalizeBootEnv(applyPatch(cur, body, kind) as Record<string, unknown>, name);
      await this.checkRefs(env);
      return env;
    });
    const out = await this.withStatus(after);
    publishChange(this.deps.bus, 'bootenvs', 'update', name, out);
    return out;
  }

  async delete(name: string): Promise<Stored<BootEnv>> {
    this.refuseShipped(name);
    const prefs = await this.prefs.getPrefs();
    const prefUsers = ['defaultBootEnv', 'unknownBootEnv'].filter((k) => prefs[k] === name).map((k) => `prefs/${k}`);
    if (prefUsers.length > 0) throw conflict(`bootenv ${JSON.stringify(name)} is in use by ${prefUsers.join(', ')}`, { users: prefUsers, total: prefUsers.length });
    const gone = await this.deps.store.delete<BootEnv>('bootenvs', name, { blockedBy: [{ kind: 'machines', path: ['bootenv'] }] });
    if (!gone) throw notFound('bootenv', name);
    publishChange(this.deps.bus, 'bootenvs', 'delete', name, gone);
    return gone;
  }
}
