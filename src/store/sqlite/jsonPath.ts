/**
 * Filters and sorting on JSON paths of stored bodies. Paths are bound as SQL parameters (never spliced into
 * SQL text), so the statement text depends only on the number of filters and the sort direction and can be
 * cached. Each segment is a quoted label, so names like `ssh/keys` or `rack.name` address one key.
 */
import { FarrierError } from '../../errors.js';
import type { Filter } from '../store.js';

export type SqlValue = string | number | null;

/** `['params', 'rack.name']` → `$."params"."rack.name"`. */
export function jsonPath(path: readonly string[]): string {
  if (path.length === 0) throw new FarrierError('BAD_REQUEST', 'a filter or sort path must not be empty');
  return '$' + path.map((seg) => '."' + seg.replace(/[\\"]/g, (c) => '\\' + c) + '"').join('');
}

/** JSON booleans come out of json_extract/json_each as 1/0. */
export function sqlValue(value: Filter['value']): SqlValue {
  if (typeof value === 'boolean') return value ? 1 : 0;
  return value;
}

/**
 * SQL condition, bound with the five values from `filterParams`, that is true when the value at the path
 * equals the filter value or, when it is an array, when one of its scalar elements does. Types are strict:
 * the string "1" does not match the number 1.
 * `null` matches a JSON null or a missing field.
 */
export function filterCondition(bodyColumn: string): string {
  return `(CASE json_type(${bodyColumn}, ?)
    WHEN 'array' THEN EXISTS (SELECT 1 FROM json_each(${bodyColumn}, ?) AS e
                              WHERE e.type NOT IN ('object', 'array') AND e.value IS ?)
    ELSE json_extract(${bodyColumn}, ?) IS ? END)`;
}

export function filterParams(filter: Filter): SqlValue[] {
  const p = jsonPath(filter.path);
  const v = sqlValue(filter.value);
  return [p, p, v, p, v];
}

export function checkPaging(limit: number | undefined, offset: number | undefined): void {
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 0)) {
    throw new FarrierError('BAD_REQUEST', `limit must be a non-negative integer, got ${limit}`);
  }
  if (offset !== undefined && (!Number.isInteger(offset) || offset < 0)) {
    throw new FarrierError('BAD_REQUEST', `offset must be a non-negative integer, got ${offset}`);
  }
}
