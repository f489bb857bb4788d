/**
 * Prefs: a small map of daemon-wide choices. `defaultBootEnv` must name an existing bootenv that is not
 * onlyUnknown (known machines boot it); `unknownBootEnv` an existing onlyUnknown bootenv, or `ignore`.
 */
import { FarrierError } from '../errors.js';
import type { BootEnv, Prefs } from '../model/types.js';
import type { Stored } from '../store/store.js';
import { type CoreDeps, isPlainObject, publishChange } from './common.js';
import { applyPatch } from './patch.js';
import { Problems } from './validate.js';

export const PREF_DEFAULTS: Prefs = { defaultBootEnv: 'local', unknownBootEnv: 'ignore', autoRegister: false };

export class PrefsService {
  constructor(
    private readonly deps: CoreDeps,
    private readonly findBootEnv: (name: string) => Promise<Stored<BootEnv> | undefined>,
  ) {}

  async getPrefs(): Promise<Prefs> {
    return { ...PREF_DEFAULTS, ...(await this.deps.store.getPrefs()) } as Prefs;
  }

  private async validate(values: Record<string, unknown>): Promise<void> {
    const p = new Problems('prefs');
    if ('defaultBootEnv' in values) {
      const v = values.defaultBootEnv;
      const env = typeof v === 'string' ? await this.findBootEnv(v) : undefined;
      if (typeof v !== 'string') p.add('defaultBootEnv', 'must be a bootenv name');
      else if (!env) p.add('defaultBootEnv', `bootenv ${JSON.stringify(v)} does not exist`);
      else if (env.onlyUnknown) p.add('defaultBootEnv', `bootenv ${JSON.stringify(v)} is onlyUnknown (for unknown machines); pick one for known machines, e.g. local`);
    }
    if ('unknownBootEnv' in values) {
      const v = values.unknownBootEnv;
      const env = typeof v === 'string' ? await this.findBootEnv(v) : undefined;
      if (typeof v !== 'string') p.add('unknownBootEnv', 'must be a bootenv name');
      else if (v !== 'ignore' && !env) p.add('unknownBootEnv', `bootenv ${JSON.stringify(v)} does not exist`);
      else if (env && !env.onlyUnknown) p.add('unknownBootEnv', `bootenv ${JSON.stringify(v)} is not onlyUnknown; pick ignore, discovery or another onlyUnknown bootenv`);
    }
    if ('autoRegister' in values && typeof values.autoRegister !== 'boolean') p.add('autoRegister', 'must be true or false');
    for (const k of ['defaultBootEnv', 'unknownBootEnv', 'autoRegister']) if (values[k] === null) p.add(k, 'cannot be removed');
    p.throwIfAny();
  }

  /** Sets the given keys (null removes a custom key); returns the full map. */
  async set(values: Record<string, unknown>): Promise<Prefs> {
    await this.validate(values);
    await this.deps.store.setPrefs(values);
    const out = await this.getPrefs();
    publishChange(this.deps.bus, 'prefs', 'update', 'prefs', out);
    return out;
  }

  async patch(body: unknown, kind: 'merge' | 'json' | 'auto'): Promise<Prefs> {
    const current = await this.getPrefs();
    const next = applyPatch(current, body, kind);
    if (!isPlainObject(next)) throw new FarrierError('VALIDATION', 'prefs: the patched prefs must be a JSON object', [{ field: '/', message: 'must be an object' }]);
    const changes: Record<string, unknown> = {};
    for (const k of Object.keys(current)) if (!(k in next)) changes[k] = null;
    for (const [k, v] of Object.entries(next)) if (JSON.stringify(v) !== JSON.stringify(current[k])) changes[k] = v;
    return this.set(changes);
  }
}
