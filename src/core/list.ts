/**
 * List queries: turns `?bootenv=local&param.rack=r1&sort=-name&limit=10` into a store ListQuery, and
 * applies the same semantics in memory for collections that mix stored and shipped (read-only) objects.
 */
import { FarrierError } from '../errors.js';
import type { Filter, ListQuery, ListResult } from '../store/store.js';
import { normalizeMac } from './validate.js';

export type FieldType = 'string' | 'boolean' | 'number' | 'array' | 'object' | 'any';

export interface ListSpec {
  /** Filterable/sortable top-level fields and their JSON types. */
  fields: Record<string, FieldType>;
  /** Query-key aliases (e.g. machines: `mac` → `macs`). */
  aliases?: Record<string, string>;
  /** Whether `param.<name>` filters on the `params` map. */
  params?: boolean;
}

const RESERVED = new Set(['limit', 'offset', 'sort']);

function guessValue(raw: string): Filter['value'] {
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  if (raw === 'null') return null;
  if (/^-?\d+(\.\d+)?$/.test(raw)) return Number(raw);
  return raw;
}

function typedValue(field: string, type: FieldType, raw: string): Filter['value'] {
  if (type === 'boolean') {
    if (raw !== 'true' && raw !== 'false') throw new FarrierError('BAD_REQUEST', `filter ${field} must be true or false`, [{ field, message: 'must be true or false' }]);
    return raw === 'true';
  }
  if (type === 'number') {
    const n = Number(raw);
    if (raw === '' || Number.isNaN(n)) throw new FarrierError('BAD_REQUEST', `filter ${field} must be a number`, [{ field, message: 'must be a number' }]);
    return n;
  }
  if (raw === 'null') return null;
  return raw;
}

function pathOf(spec: ListSpec, rawKey: string): { path: string[]; type: FieldType } {
  if (spec.params && rawKey.startsWith('param.') && rawKey.length > 6) return { path: ['params', rawKey.slice(6)], type: 'any' };
  // Own keys only: `constructor` or `__proto__` in a query must not find Object.prototype's members.
  const key = spec.aliases && Object.hasOwn(spec.aliases, rawKey) ? spec.aliases[rawKey]! : rawKey;
  const type = Object.hasOwn(spec.fields, key) ? spec.fields[key] : undefined;
  if (!type || type === 'object') {
    const known = [...Object.keys(spec.fields).filter((f) => spec.fields[f] !== 'object'), ...Object.keys(spec.aliases ?? {})];
    if (spec.params) known.push('param.<name>');
    throw new FarrierError('BAD_REQUEST', `unknown field "${rawKey}"; use one of ${known.join(', ')}`, [{ field: rawKey, message: 'unknown field' }]);
  }
  return { path: [key], type };
}

export function parseListQuery(spec: ListSpec, query: Record<string, unknown>): ListQuery {
  const out: ListQuery = { filters: [] };
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || RESERVED.has(k)) continue;
    const { path, type } = pathOf(spec, k);
    for (const raw of Array.isArray(v) ? v.map(String) : [String(v)]) {
      let value: Filter['value'] = type === 'any' ? guessValue(raw) : typedValue(k, type === 'array' ? 'string' : type, raw);
      if ((path[0] === 'macs' || path[0] === 'mac') && typeof value === 'string') value = normalizeMac(value) ?? value;
      out.filters!.push({ path, value });
    }
  }
  const num = (name: 'limit' | 'offset'): number | undefined => {
    const v = query[name];
    if (v === undefined) return undefined;
    const n = typeof v === 'number' ? v : Number(v);
    if (!Number.isSafeInteger(n) || n < 0) throw new FarrierError('BAD_REQUEST', `${name} must be a non-negative integer`, [{ field: name, message: 'must be a non-negative integer' }]);
    return n;
  };
  out.limit = num('limit');
  out.offset = num('offset');
  if (typeof query.sort === 'string' && query.sort !== '') {
    const desc = query.sort.startsWith('-');
    const { path } = pathOf(spec, desc ? query.sort.slice(1) : query.sort);
    out.sort = { path, desc };
  }
  return out;
}

function at(obj: unknown, path: string[]): unknown {
  let cur = obj;
  for (const p of path) cur = cur !== null && typeof cur === 'object' ? (cur as Record<string, unknown>)[p] : undefined;
  return cur;
}

function matches(obj: unknown, f: Filter): boolean {
  const v = at(obj, f.path);
  if (Array.isArray(v)) return v.some((e) => e === f.value);
  if (f.value === null) return v === null || v === undefined;
  return v === f.value;
}

function compare(a: unknown, b: unknown): number {
  if (a === b) return 0;
  if (a === undefined || a === null) return -1;
  if (b === undefined || b === null) return 1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a) < String(b) ? -1 : 1;
}

/** In-memory twin of Store.list for collections that mix stored and shipped objects. */
export function applyListQuery<T>(items: T[], keyOf: (t: T) => string, q: ListQuery): ListResult<T> {
  const filtered = items.filter((it) => (q.filters ?? []).every((f) => matches(it, f)));
  const sortPath = q.sort?.path;
  filtered.sort((a, b) => {
    const c = sortPath ? compare(at(a, sortPath), at(b, sortPath)) : 0;
    const r = c !== 0 ? c : compare(keyOf(a), keyOf(b));
    return q.sort?.desc ? -r : r;
  });
  const offset = q.offset ?? 0;
  return { items: filtered.slice(offset, q.limit === undefined ? undefined : offset + q.limit), total: filtered.length };
}
