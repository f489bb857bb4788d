/**
 * Turns API results into text: JSON, YAML or a padded plain-text table. Pure functions; callers write the
 * returned strings.
 */
import { stringify as toYaml } from 'yaml';
import { UsageError } from './failures.js';

export type OutputFormat = 'json' | 'yaml' | 'table';
export const OUTPUT_FORMATS: readonly OutputFormat[] = ['json', 'yaml', 'table'];

export interface Column {
  header: string;
  value: (row: Record<string, unknown>) => unknown;
}

export function resolveFormat(requested: string | undefined, isTTY: boolean): OutputFormat {
  if (requested === undefined) return isTTY ? 'table' : 'json';
  if ((OUTPUT_FORMATS as readonly string[]).includes(requested)) return requested as OutputFormat;
  throw new UsageError(`unknown output format ${JSON.stringify(requested)}: use json, yaml or table`);
}

/** Renders one cell: arrays comma-joined, null/undefined as `-`, nested objects as compact JSON. */
export function cell(v: unknown): string {
  if (v === null || v === undefined || v === '') return '-';
  if (Array.isArray(v)) return v.length === 0 ? '-' : v.map((x) => (typeof x === 'object' ? JSON.stringify(x) : String(x))).join(',');
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v).replace(/\s*\n\s*/g, ' ');
}

/** Pads columns to their widest cell; the last column is not padded so lines carry no trailing blanks. */
export function renderTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ');
  return [line(headers.map((h) => h.toUpperCase())), ...rows.map(line)].join('\n') + '\n';
}

export function renderList(items: unknown[], format: OutputFormat, columns: Column[]): string {
  if (format === 'json') return JSON.stringify(items, null, 2) + '\n';
  if (format === 'yaml') return items.length === 0 ? '[]\n' : toYaml(items);
  const rows = items.map((item) => columns.map((c) => cell(c.value(asRecord(item)))));
  return renderTable(
    columns.map((c) => c.header),
    rows,
  );
}

/** One object: JSON, YAML, or a two-column FIELD/VALUE table (nested values as compact JSON). */
export function renderObject(obj: unknown, format: OutputFormat): string {
  if (format === 'json') return JSON.stringify(obj, null, 2) + '\n';
  if (format === 'yaml') return toYaml(obj);
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return cell(obj) + '\n';
  const rows = Object.entries(obj as Record<string, unknown>).map(([k, v]) => [k, cell(v)]);
  return renderTable(['field', 'value'], rows);
}

/** A bare scalar value (a single param or pref): plain text in table mode, quoted JSON/YAML otherwise. */
export function renderValue(v: unknown, format: OutputFormat): string {
  if (format === 'table') {
    if (typeof v === 'string') return v + '\n';
    return JSON.stringify(v, null, 2) + '\n';
  }
  return renderObject(v, format);
}

export function asRecord(v: unknown): Record<string, unknown> {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : { value: v };
}

/** Reads a dotted path (`os.name`) from an object. */
export function pick(obj: Record<string, unknown>, path: string): unknown {
  let cur: unknown = obj;
  for (const part of path.split('.')) {
    if (!cur || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}
