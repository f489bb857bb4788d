/**
 * A small seeded request generator for the API fuzz test: it walks openapi.yaml and, for every operation,
 * produces valid requests (bodies generated from the operation's schema, sometimes hand-made creatable
 * ones) and broken ones — a wrong type for each field, each required field missing, an unknown field, a
 * body over the limit, malformed JSON, foreign content types, broken JSON-Patch and merge-patch documents,
 * bad path parameters and bad query parameters. Every case says what the server must answer.
 */
import type { Ajv } from 'ajv';
import type { OpenApiDoc, OpenApiOperation, OpenApiParameter } from '../../src/api/spec.js';
import { rewriteRefs } from '../../src/api/spec.js';

type Json = unknown;
type Schema = Record<string, unknown>;

/** mulberry32: tiny, seedable, good enough to pick cases. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let x = this.s;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  pick<T>(list: readonly T[]): T {
    return list[Math.floor(this.next() * list.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  hex(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += '0123456789abcdef'[this.int(0, 15)];
    return s;
  }
}

/** What a case expects, beyond "never 500, status documented, envelope valid". */
export type Expect =
  | { kind: 'any' }
  /** Must be refused (4xx) — and name `field` in fieldErrors when it is a 400/422. */
  | { kind: 'reject'; field?: string; status?: number[] };

export interface FuzzCase {
  label: string;
  method: string;
  specPath: string;
  /** Concrete URL with query. */
  url: string;
  headers: Record<string, string>;
  payload?: string | Buffer;
  expect: Expect;
}

export interface Op {
  method: string;
  specPath: string;
  op: OpenApiOperation;
}

export function operations(doc: OpenApiDoc): Op[] {
  const out: Op[] = [];
  for (const [specPath, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (['get', 'put', 'post', 'patch', 'delete'].includes(method)) out.push({ method: method.toUpperCase(), specPath, op });
    }
  }
  return out;
}

/** Follows `$ref`s and folds `allOf` into one object schema (properties and required merged). */
export function resolve(doc: OpenApiDoc, s: Schema | undefined): Schema {
  if (!s) return {};
  if (typeof s.$ref === 'string') return resolve(doc, doc.components.schemas[s.$ref.split('/').pop()!] as Schema);
  if (Array.isArray(s.allOf)) {
    const parts = (s.allOf as Schema[]).map((p) => resolve(doc, p));
    const properties: Schema = {};
    const required: string[] = [];
    let base: Schema = {};
    for (const p of parts) {
      if (p.type) base = { ...base, ...p };
      Object.assign(properties, (p.properties as Schema | undefined) ?? {});
      required.push(...((p.required as string[] | undefined) ?? []));
    }
    return { ...base, type: 'object', properties, required };
  }
  return s;
}

const typesOf = (s: Schema): string[] => (Array.isArray(s.type) ? (s.type as string[]) : typeof s.type === 'string' ? [s.type] : []);

const NASTY_STRINGS = ['', ' ', 'fz', 'ünïcødé-☃', '{{#each x}}', '../../etc/passwd', 'a\u0000b', '%00', 'null', '-1', '1e309', 'x'.repeat(300), '\ud800'];

/** A value that satisfies `schema`'s types, enums and bounds (names follow the name pattern). */
export function genValue(doc: OpenApiDoc, raw: Schema | undefined, rng: Rng, depth = 0, name = ''): Json {
  const s = resolve(doc, raw);
  if (Array.isArray(s.enum)) return rng.pick(s.enum as Json[]);
  if (Array.isArray(s.oneOf)) return genValue(doc, rng.pick(s.oneOf as Schema[]), rng, depth, name);
  const types = typesOf(s);
  const type = types.length === 0 ? rng.pick(depth > 2 ? ['string', 'integer', 'boolean'] : ['string', 'integer', 'boolean', 'array', 'object', 'null']) : types.length > 1 && rng.chance(0.8) ? types.find((t) => t !== 'null')! : rng.pick(types);
  switch (type) {
    case 'null':
      return null;
    case 'boolean':
      return rng.chance(0.5);
    case 'integer':
    case 'number': {
      const lo = typeof s.minimum === 'number' ? s.minimum : -5;
      const hi = typeof s.maximum === 'number' ? s.maximum : lo + 100000;
      return rng.chance(0.3) ? lo : rng.chance(0.2) ? hi : rng.int(lo, Math.min(hi, lo + 100000));
    }
    case 'string': {
      if (s.format === 'ipv4') return `10.${rng.int(0, 255)}.${rng.int(0, 255)}.${rng.int(1, 254)}`;
      if (s.format === 'uuid') return `${rng.hex(8)}-${rng.hex(4)}-4${rng.hex(3)}-8${rng.hex(3)}-${rng.hex(12)}`;
      if (s.format === 'date-time') return new Date(1_700_000_000_000 + rng.int(0, 1e9)).toISOString();
      const min = typeof s.minLength === 'number' ? s.minLength : 0;
      const max = typeof s.maxLength === 'number' ? s.maxLength : 400;
      let v: string;
      if (typeof s.pattern === 'string' || /name|id$/i.test(name)) v = `fz-${rng.hex(8)}`;
      else if (/mac/i.test(name)) v = `52:54:00:${rng.hex(2)}:${rng.hex(2)}:${rng.hex(2)}`;
      else v = rng.chance(0.5) ? `fz ${rng.hex(6)}` : rng.pick(NASTY_STRINGS);
      if (v.length < min) v = v.padEnd(min, 'a');
      return v.slice(0, max);
    }
    case 'array': {
      const max = Math.min(typeof s.maxItems === 'number' ? s.maxItems : 3, 3);
      const min = typeof s.minItems === 'number' ? s.minItems : 0;
      const n = rng.int(min, Math.max(min, max));
      return Array.from({ length: n }, () => genValue(doc, s.items as Schema | undefined, rng, depth + 1, name));
    }
    case 'object': {
      const out: Record<string, Json> = {};
      const props = (s.properties as Record<string, Schema> | undefined) ?? {};
      const required = new Set((s.required as string[] | undefined) ?? []);
      for (const [k, ps] of Object.entries(props)) {
        if (ps.readOnly === true && !required.has(k)) continue;
        if (required.has(k) || rng.chance(0.5)) out[k] = genValue(doc, ps, rng, depth + 1, k);
      }
      if (s.additionalProperties !== false && Object.keys(props).length === 0 && depth < 3) {
        for (let i = rng.int(0, 2); i > 0; i--) out[rng.pick(['fz/num', 'fz-str', `fz-${rng.hex(4)}`])] = genValue(doc, (typeof s.additionalProperties === 'object' ? s.additionalProperties : undefined) as Schema | undefined, rng, depth + 1);
      }
      return out;
    }
    default:
      return null;
  }
}

const CANDIDATES: Json[] = [12345, 'fz-wrong', true, null, [1, 'two'], { nested: { deep: 1 } }, -1, 1.5];

/** Values of other types than `schema` allows (checked with the spec's own Ajv). */
export function wrongValues(ajv: Ajv, doc: OpenApiDoc, schema: Schema): Json[] {
  const validate = ajv.compile(rewriteRefs(schema));
  return CANDIDATES.filter((c) => !validate(c));
}

export const BAD_JSON: string[] = [
  '{',
  '{"name": }',
  "{'name': 'x'}",
  '{"name": "x",}',
  'nul',
  '\u0000',
  '\ufeff{"name":"x"}',
  '{"a":1}{"b":2}',
  '[1, 2',
  '"unterminated',
  '{"__proto__": {"polluted": true}, "name": "fz-proto"}',
  '{"constructor": {"prototype": {"polluted": true}}}',
  '\xff\xfe{',
  '{"name": "\\ud800"}',
  '1e999999',
  '-',
];

export const BAD_CONTENT_TYPES = ['text/plain', 'application/xml', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded', 'application/json-patch+json', 'application/merge-patch+json', 'application/octet-stream', 'image/png', 'application/jsonx', 'application', '*/*'];

/** JSON patches no target accepts. */
export const BAD_JSON_PATCHES: Json[] = [
  {},
  [{}],
  [{ op: 'bogus', path: '/name' }],
  [{ op: 'add' }],
  [{ op: 'add', path: 'name', value: 1 }],
  [{ op: 'add', path: '/name' }],
  [{ op: 'remove', path: '' }],
  [{ op: 'replace', path: '', value: 42 }],
  [{ op: 'replace', path: '', value: null }],
  [{ op: 'replace', path: '', value: [] }],
  [{ op: 'move', from: '/name', path: '/name/inner' }],
  [{ op: 'move', path: '/x' }],
  [{ op: 'copy', from: '/nope', path: '/x' }],
  [{ op: 'test', path: '/name', value: 'fz-definitely-not' }],
  [{ op: 'test', path: '/nope', value: 1 }],
  [{ op: 'replace', path: '/description', value: 'ok' }, { op: 'test', path: '/description', value: 'not ok' }],
  [{ op: 'add', path: '/description', value: 'x' }, { op: 'bogus', path: '/x' }],
  [{ op: 'add', path: '/a/b/c/d', value: 1 }],
  [{ op: 'add', path: 5, value: 1 }],
];

/** JSON patches whose fate depends on the target (a params map takes `/version`, a machine does not). */
export const ODD_JSON_PATCHES: Json[] = [
  [{ op: 'remove', path: '/fz-does-not-exist' }],
  [{ op: 'replace', path: '/name', value: { object: true } }],
  [{ op: 'add', path: '/macs/-', value: 'zz' }],
  [{ op: 'add', path: '/macs/99', value: '52:54:00:00:00:99' }],
  [{ op: 'add', path: '/macs/01', value: '52:54:00:00:00:99' }],
  [{ op: 'add', path: '/params/~2', value: 1 }],
  [{ op: 'add', path: '/version', value: 'x' }],
  [{ op: 'add', path: '/__proto__/polluted', value: true }],
  [{ op: 'add', path: '/fzExtra', value: 1 }],
  [{ op: 'add', path: '/description', value: 'x', extra: 'ignored?' }],
  [{ op: 'copy', from: '', path: '/description' }],
];

/** Merge patches that are not objects: no target accepts them. */
export const BAD_MERGE_PATCHES: Json[] = [null, [], 'a string', 42];

/** Merge patches whose fate depends on the target. */
export const ODD_MERGE_PATCHES: Json[] = [
  { name: null },
  { name: 12 },
  { uuid: 'other' },
  { version: 'x' },
  { version: -5 },
  { fzExtra: 1 },
  { params: 'not an object' },
  { params: { 'fz/num': 'not an integer' } },
  { macs: ['zz'] },
  { macs: null, name: null },
  { __proto__: { polluted: true } },
  { bootenv: 'fz-no-such-env' },
  { profiles: ['fz-no-such-profile'] },
  { cidr: '10.0.0.1/33' },
  { role: 'superuser' },
  { schema: { type: 'nonsense' } },
  { contents: '{{#if}}' },
  { templates: [{ name: 'x' }] },
];

/** `[[[[…]]]]` / `{"a":{"a":…}}` nested `n` deep: stack depth, not size. */
export const deepArray = (n: number): string => '['.repeat(n) + ']'.repeat(n);
export const deepObject = (n: number): string => '{"a":'.repeat(n) + '1' + '}'.repeat(n);

export interface BadParam {
  value: string;
  label: string;
}

/**
 * Path parameter values that name nothing or are malformed (already URL-encoded). No `..` or `%2E%2E`:
 * WHATWG URL parsing (fastify.inject's, fetch's) resolves them away before anything is sent.
 */
export const BAD_PATH_VALUES: BadParam[] = [
  { value: 'fz-none', label: 'no such key' },
  { value: encodeURIComponent('name:'), label: 'empty name: key' },
  { value: encodeURIComponent('mac:zz'), label: 'bad mac: key' },
  { value: encodeURIComponent('name:fz-none'), label: 'name: of nothing' },
  { value: '%00', label: 'NUL' },
  { value: '%2e%2e%2F%2e%2e%2Fetc%2Fpasswd', label: 'encoded traversal' },
  { value: '%E2%82', label: 'broken UTF-8' },
  { value: '%ZZ', label: 'broken percent-encoding' },
  { value: 'a'.repeat(300), label: 'too long (300)' },
  { value: 'b'.repeat(5000), label: 'too long (5000)' },
  { value: encodeURIComponent('ünï☃'), label: 'unicode' },
  { value: '%20', label: 'space' },
  { value: encodeURIComponent('{{x}}'), label: 'template syntax' },
];

/** Query strings that break each documented query parameter. */
export function badQueries(params: OpenApiParameter[]): Array<{ query: string; field: string }> {
  const out: Array<{ query: string; field: string }> = [];
  for (const p of params.filter((x) => x.in === 'query')) {
    const s = p.schema ?? {};
    if (s.type === 'object') continue;
    if (s.type === 'integer' || s.type === 'number') {
      for (const v of ['abc', '-1', '1.5', '1e400', '99999999999999999999', '']) out.push({ query: `${p.name}=${encodeURIComponent(v)}`, field: p.name });
    } else if (s.type === 'boolean') {
      for (const v of ['maybe', '2', '']) out.push({ query: `${p.name}=${encodeURIComponent(v)}`, field: p.name });
    } else if (s.type === 'string' && Array.isArray(s.enum)) {
      out.push({ query: `${p.name}=fz-not-in-enum`, field: p.name });
    } else if (s.type === 'string' && typeof s.pattern === 'string') {
      out.push({ query: `${p.name}=${encodeURIComponent('!!bad pattern')}`, field: p.name });
    }
  }
  return out;
}

/** Query strings that are odd but not necessarily wrong: repeated keys, unknown keys, weird values. */
export const ODD_QUERIES = ['fzUnknown=1', 'limit=1&limit=2', 'sort=', 'sort=-', 'sort=fzNoField', 'param.=x', 'param.fz%2Fnum=2', 'mac=zz', 'bootenv=', '%00=%00', 'a[b]=c', 'limit=10000', 'offset=999999999', 'name=fz-m&name=other', '__proto__=x', 'constructor=x'];
