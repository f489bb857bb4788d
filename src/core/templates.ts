/**
 * Templates: Handlebars sources, stored (API-created) or shipped read-only from the repo's templates/.
 * Every write must parse; the error names the line.
 */
import Handlebars from 'handlebars';
import { FarrierError, conflict, notFound } from '../errors.js';
import type { Template } from '../model/types.js';
import type { ListQuery, ListResult, Stored, Unstored } from '../store/store.js';
import { type CoreDeps, clientVersionOf, publishChange, updateObject } from './common.js';
import type { RepoContent } from './content.js';
import { applyListQuery, type ListSpec } from './list.js';
import { applyPatch } from './patch.js';
import { nestingError } from './templateNesting.js';
import { NAME_RE, Problems } from './validate.js';

export const templateListSpec: ListSpec = { fields: { id: 'string', description: 'string', readOnly: 'boolean', contents: 'string' } };

/** Parse check; returns a message naming the line, or undefined when the source is fine. */
export function handlebarsError(source: string): string | undefined {
  const nesting = nestingError(source);
  if (nesting) return nesting;
  try {
    Handlebars.parse(source);
    return undefined;
  } catch (err) {
    const msg = (err as Error).message;
    const line = /line (\d+)/i.exec(msg)?.[1];
    const first = msg.split('\n')[0] ?? msg;
    return line && !/line \d+/i.test(first) ? `line ${line}: ${first}` : first;
  }
}

export function normalizeTemplate(input: Record<string, unknown>, key: string | undefined): Unstored<Template> {
  const p = new Problems(`template ${JSON.stringify(key ?? input.id ?? '')}`);
  const id = typeof input.id === 'string' ? input.id : key;
  if (!id) p.add('id', 'is required');
  else if (!NAME_RE.test(id)) p.add('id', 'must start with a letter or digit and hold only letters, digits, ".", "_", "-"');
  if (key !== undefined && input.id !== undefined && input.id !== key) p.add('id', `must match the URL key ${JSON.stringify(key)}`);
  const contents = typeof input.contents === 'string' ? input.contents : '';
  if (typeof input.contents !== 'string') p.add('contents', 'is required');
  else {
    const e = handlebarsError(contents);
    if (e) p.add('contents', `does not parse: ${e}`);
  }
  p.throwIfAny();
  return { id: id!, contents, description: typeof input.description === 'string' ? input.description : '', readOnly: false };
}

export class TemplateService {
  constructor(private readonly deps: CoreDeps, private readonly repo: RepoContent) {}

  async get(id: string): Promise<Stored<Template>> {
    const shipped = this.repo.templates.get(id);
    if (shipped) return shipped;
    const t = await this.deps.store.get<Template>('templates', id);
    if (!t) throw notFound('template', id);
    return t;
  }

  async exists(id: string): Promise<boolean> {
    return this.repo.templates.has(id) || (await this.deps.store.get<Template>('templates', id)) !== undefined;
  }

  async list(q: ListQuery): Promise<ListResult<Stored<Template>>> {
    const stored = await this.deps.store.list<Template>('templates');
    return applyListQuery([...this.repo.templates.values(), ...stored.items], (t) => t.id, q);
  }

  private refuseShipped(id: string): void {
    if (this.repo.templates.has(id)) {
      throw new FarrierError('FORBIDDEN', `template ${JSON.stringify(id)} is shipped read-only with Farrier; create a copy under another id instead`);
    }
  }

  async create(input: Record<string, unknown>): Promise<Stored<Template>> {
    const t = normalizeTemplate(input, undefined);
    if (this.repo.templates.has(t.id)) throw conflict(`template ${JSON.stringify(t.id)} already exists (shipped read-only)`);
    const saved = await this.deps.store.put<Template>('templates', t.id, t, { mode: 'create' });
    publishChange(this.deps.bus, 'templates', 'create', t.id, saved);
    return saved;
  }

  async replace(id: string, input: Record<string, unknown>): Promise<Stored<Template>> {
    this.refuseShipped(id);
    const t = normalizeTemplate(input, id);
    const { after } = await updateObject<Template>(this.deps.store, 'templates', id, () => t, clientVersionOf(input));
    publishChange(this.deps.bus, 'templates', 'update', id, after);
    return after;
  }

  async patch(id: string, body: unknown, kind: 'merge' | 'json' | 'auto'): Promise<Stored<Template>> {
    this.refuseShipped(id);
    const { after } = await updateObject<Template>(this.deps.store, 'templates', id, (cur) =>
      normalizeTemplate(applyPatch(cur, body, kind) as Record<string, unknown>, id),
    );
    publishChange(this.deps.bus, 'templates', 'update', id, after);
    return after;
  }

  /** `usersOf` lists the bootenvs that reference the template (blocking the delete). */
  async delete(id: string, usersOf: (id: string) => Promise<string[]>): Promise<Stored<Template>> {
    this.refuseShipped(id);
    const users = await usersOf(id);
    if (users.length > 0) throw conflict(`template ${JSON.stringify(id)} is in use by ${users.join(', ')}`, { users, total: users.length });
    const gone = await this.deps.store.delete<Template>('templates', id);
    if (!gone) throw notFound('template', id);
    publishChange(this.deps.bus, 'templates', 'delete', id, gone);
    return gone;
  }
}
