/**
 * Handlebars helpers available to every boot template. Each is pure; the ones that can fail throw a
 * RENDER FarrierError naming the template line, which render.ts completes with machine and template.
 */
import { stringify as toYaml } from 'yaml';
import { FarrierError } from '../errors.js';

/** The part of Handlebars' helper options we use (`loc` is present at runtime but missing from its types). */
export interface HelperCallOptions {
  hash: Record<string, unknown>;
  data?: { root?: unknown };
  loc?: { start: { line: number; column: number } };
}

/** A helper error carrying the line it happened on; render.ts adds machine, bootenv and template. */
export class HelperError extends FarrierError {
  constructor(
    message: string,
    readonly line: number | undefined,
    readonly missing?: string,
  ) {
    super('RENDER', message);
  }
}

const isOptions = (v: unknown): v is HelperCallOptions =>
  typeof v === 'object' && v !== null && 'hash' in v && 'data' in v;

/** Splits Handlebars' (...args, options) calling convention. */
function split(args: unknown[]): { params: unknown[]; options: HelperCallOptions } {
  const last = args[args.length - 1];
  if (!isOptions(last)) throw new HelperError('helper called without Handlebars options', undefined);
  return { params: args.slice(0, -1), options: last };
}

const lineOf = (o: HelperCallOptions): number | undefined => o.loc?.start.line;

function paramsOf(options: HelperCallOptions): Record<string, unknown> {
  const root = options.data?.root;
  if (typeof root === 'object' && root !== null && 'params' in root) {
    const params = (root as { params: unknown }).params;
    if (typeof params === 'object' && params !== null) return params as Record<string, unknown>;
  }
  return {};
}

function asText(v: unknown): string {
  if (v === undefined || v === null) return '';
  return typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v);
}

type Helper = (...args: unknown[]) => unknown;

export const bootHelpers: Record<string, Helper> = {
  /** `{{param "name"}}`: the aggregated value (schema defaults included); unset is an error. */
  param(...args) {
    const { params, options } = split(args);
    const name = params[0];
    if (typeof name !== 'string') throw new HelperError('param needs a name: {{param "name"}}', lineOf(options));
    const value = paramsOf(options)[name];
    if (value === undefined) {
      throw new HelperError(`param "${name}" is not set and has no default`, lineOf(options), name);
    }
    return value;
  },
  /** `{{json value}}` or `{{json value indent=2}}`. */
  json(...args) {
    const { params, options } = split(args);
    const indent = typeof options.hash.indent === 'number' ? options.hash.indent : undefined;
    return JSON.stringify(params[0] ?? null, null, indent);
  },
  /** `{{yaml value}}`: a YAML document without its trailing newline, to combine with `indent`. */
  yaml(...args) {
    const { params } = split(args);
    return toYaml(params[0] ?? null).replace(/\n$/, '');
  },
  /** `{{default value fallback}}`: fallback when value is undefined or null (missing values do not throw here). */
  default(...args) {
    const { params } = split(args);
    return params[0] ?? params[1];
  },
  /** `{{join list ", "}}` (default separator one space). */
  join(...args) {
    const { params, options } = split(args);
    const list = params[0];
    if (!Array.isArray(list)) throw new HelperError('join needs a list', lineOf(options));
    return list.map(asText).join(typeof params[1] === 'string' ? params[1] : ' ');
  },
  /** `{{indent 4 text}}`: prefixes every non-empty line. */
  indent(...args) {
    const { params, options } = split(args);
    const n = params[0];
    // Bounded so a template cannot ask for a gigabyte of spaces.
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 256) throw new HelperError('indent needs a number of spaces (0-256) first', lineOf(options));
    const pad = ' '.repeat(n);
    return asText(params[1])
      .split('\n')
      .map((l) => (l === '' ? l : pad + l))
      .join('\n');
  },
  b64(...args) {
    const { params } = split(args);
    return Buffer.from(asText(params[0]), 'utf8').toString('base64');
  },
  /** Percent-encoding, e.g. for Ignition `data:,` URLs. */
  urlencode(...args) {
    const { params } = split(args);
    return encodeURIComponent(asText(params[0]));
  },
  /** `(array a b)`: a list, e.g. an empty default `{{json (default params.x (array))}}`. */
  array(...args) {
    return split(args).params;
  },
  eq(...args) {
    const { params } = split(args);
    return params[0] === params[1];
  },
  /** GRUB treats `;`, `&`, `|`, `<`, `>`, quotes and `$` specially on a `linux` line. */
  grubEscape(...args) {
    const { params } = split(args);
    return asText(params[0]).replace(/([;&|<>"'$\\])/g, '\\$1');
  },
};
