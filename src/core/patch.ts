/**
 * JSON Merge Patch (RFC 7386) and JSON Patch (RFC 6902) over plain JSON values. Both return a new value
 * and never mutate their input. JSON Patch errors are FarrierErrors: a failed `test` is CONFLICT (409, it is
 * how clients do optimistic concurrency), a malformed operation or a path that does not exist is VALIDATION.
 */
import { FarrierError } from '../errors.js';

type Json = unknown;

const isObject = (v: Json): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v);
const clone = <T>(v: T): T => (v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T));

export function mergePatch(target: Json, patch: Json): Json {
  if (!isObject(patch)) return clone(patch);
  const out: Record<string, Json> = isObject(target) ? clone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

export interface PatchOp {
  op: string;
  path: string;
  from?: string;
  value?: Json;
}

const bad = (i: number, msg: string): FarrierError =>
  new FarrierError('VALIDATION', `patch operation ${i}: ${msg}`, [{ field: `/${i}`, message: msg }]);

function parsePointer(pointer: string, i: number): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw bad(i, `path "${pointer}" must start with "/"`);
  return pointer.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function arrayIndex(arr: Json[], token: string, forAdd: boolean, i: number, pointer: string): number {
  if (forAdd && token === '-') return arr.length;
  if (!/^(0|[1-9]\d*)$/.test(token)) throw bad(i, `"${token}" is not an array index in "${pointer}"`);
  const n = Number(token);
  if (n > arr.length || (!forAdd && n === arr.length)) throw bad(i, `index ${n} out of range in "${pointer}"`);
  return n;
}

/** The container holding the last token of `tokens`, walking from `doc`. */
function parentOf(doc: Json, tokens: string[], i: number, pointer: string): Json {
  let cur = doc;
  for (const t of tokens.slice(0, -1)) {
    if (Array.isArray(cur)) cur = cur[arrayIndex(cur, t, false, i, pointer)];
    else if (isObject(cur) && Object.hasOwn(cur, t)) cur = cur[t];
    else throw bad(i, `path "${pointer}" does not exist`);
  }
  return cur;
}

function getAt(doc: Json, pointer: string, i: number): Json {
  const tokens = parsePointer(pointer, i);
  if (tokens.length === 0) return doc;
  const parent = parentOf(doc, tokens, i, pointer);
  const last = tokens[tokens.length - 1]!;
  if (Array.isArray(parent)) return parent[arrayIndex(parent, last, false, i, pointer)];
  if (isObject(parent) && Object.hasOwn(parent, last)) return parent[last];
  throw bad(i, `path "${pointer}" does not exist`);
}

/** Applies add/remove/replace at `pointer`; returns the (possibly new) root. */
function change(doc: Json, pointer: string, kind: 'add' | 'remove' | 'replace', value: Json, i: number): Json {
  const tokens = parsePointer(pointer, i);
  if (tokens.length === 0) {
    if (kind === 'remove') throw bad(i, 'cannot remove the whole document');
    return value;
  }
  const parent = parentOf(doc, tokens, i, pointer);
  const last = tokens[tokens.length - 1]!;
  if (Array.isArray(parent)) {
    const n = arrayIndex(parent, last, kind === 'add', i, pointer);
    if (kind === 'add') parent.splice(n, 0, value);
    else if (kind === 'remove') parent.splice(n, 1);
    else parent[n] = value;
  } else if (isObject(parent)) {
    if (kind !== 'add' && !Object.hasOwn(parent, last)) throw bad(i, `path "${pointer}" does not exist`);
    if (kind === 'remove') delete parent[last];
    else parent[last] = value;
  } else {
    throw bad(i, `path "${pointer}" does not exist`);
  }
  return doc;
}

function deepEqual(a: Json, b: Json): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((v, k) => deepEqual(v, b[k]));
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && deepEqual(a[k], b[k]));
  }
  return false;
}

export function jsonPatch(target: Json, ops: PatchOp[]): Json {
  let doc = clone(target);
  ops.forEach((o, i) => {
    if (typeof o.path !== 'string') throw bad(i, 'path must be a string');
    const needsValue = o.op === 'add' || o.op === 'replace' || o.op === 'test';
    if (needsValue && !Object.hasOwn(o, 'value')) throw bad(i, `"${o.op}" needs a value`);
    switch (o.op) {
      case 'add':
      case 'replace':
        doc = change(doc, o.path, o.op, clone(o.value), i);
        break;
      case 'remove':
        doc = change(doc, o.path, 'remove', undefined, i);
        break;
      case 'move':
      case 'copy': {
        if (typeof o.from !== 'string') throw bad(i, `"${o.op}" needs from`);
        if (o.op === 'move' && (o.path === o.from || o.path.startsWith(o.from + '/'))) {
          throw bad(i, `cannot move "${o.from}" into itself`);
        }
        const v = clone(getAt(doc, o.from, i));
        if (o.op === 'move') doc = change(doc, o.from, 'remove', undefined, i);
        doc = change(doc, o.path, 'add', v, i);
        break;
      }
      case 'test': {
        let actual: Json;
        try {
          actual = getAt(doc, o.path, i);
        } catch {
          throw new FarrierError('CONFLICT', `patch test failed: "${o.path}" does not exist`, [{ field: o.path, message: 'does not exist' }]);
        }
        if (!deepEqual(actual, o.value)) {
          throw new FarrierError('CONFLICT', `patch test failed at "${o.path}": expected ${JSON.stringify(o.value)}, found ${JSON.stringify(actual)}`,
            [{ field: o.path, message: `expected ${JSON.stringify(o.value)}` }]);
        }
        break;
      }
      default:
        throw bad(i, `unknown op "${String(o.op)}"`);
    }
  });
  return doc;
}

/**
 * A PATCH body: an array is a JSON patch, an object a merge patch (when the content type leaves it open).
 * Every patchable resource is an object, so a patch that replaces the whole document with anything else
 * (`{"op": "replace", "path": "", "value": 42}`) is refused rather than left to each service to misread.
 */
export function applyPatch(target: Json, body: Json, kind: 'merge' | 'json' | 'auto'): Json {
  const asJson = kind === 'json' || (kind === 'auto' && Array.isArray(body));
  if (asJson) {
    if (!Array.isArray(body)) throw new FarrierError('BAD_REQUEST', 'a JSON patch must be an array of operations');
    const out = jsonPatch(target, body as PatchOp[]);
    if (!isObject(out)) throw new FarrierError('VALIDATION', 'the patch would replace the object with a non-object', [{ field: '/', message: 'must stay an object' }]);
    return out;
  }
  if (!isObject(body)) throw new FarrierError('BAD_REQUEST', 'a merge patch must be a JSON object');
  return mergePatch(target, body);
}
