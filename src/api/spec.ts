/**
 * openapi.yaml is the single source of the API's schemas: it is loaded at start, its components are
 * registered with Ajv, and each route's request validators are compiled from its operation. Tests use the
 * same loader to validate real responses against the spec.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsImport from 'ajv-formats';
import { parse as parseYaml } from 'yaml';
import { FarrierError, type FieldError } from '../errors.js';

// ajv-formats is CommonJS with a default export; under NodeNext the callable sits on `.default`.
const addFormats = addFormatsImport as unknown as typeof addFormatsImport.default;

type JsonObject = Record<string, unknown>;

export interface OpenApiParameter {
  name: string;
  in: 'query' | 'path' | 'header';
  required?: boolean;
  schema?: JsonObject;
}

export interface OpenApiOperation {
  operationId: string;
  parameters?: OpenApiParameter[];
  requestBody?: { required?: boolean; content: Record<string, { schema: JsonObject }> };
  responses: Record<string, { content?: Record<string, { schema: JsonObject }> } | { $ref: string }>;
  security?: unknown[];
}

export interface OpenApiDoc {
  openapi: string;
  paths: Record<string, Record<string, OpenApiOperation>>;
  components: { schemas: Record<string, JsonObject>; responses: Record<string, { content?: Record<string, { schema: JsonObject }> }> };
}

export interface LoadedSpec {
  doc: OpenApiDoc;
  /** The file as shipped (served at /openapi.yaml). */
  text: string;
}

export function loadSpec(contentDir: string): LoadedSpec {
  const text = readFileSync(join(contentDir, 'openapi.yaml'), 'utf8');
  return { doc: parseYaml(text) as OpenApiDoc, text };
}

export const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'] as const;

/** Ajv with every components.schemas entry registered as `<Name>.json`; `$ref`s inside are rewritten to match. */
export function createSpecAjv(doc: OpenApiDoc, opts: { coerceTypes?: boolean } = {}): Ajv {
  const ajv = new Ajv({ allErrors: true, strict: false, coerceTypes: opts.coerceTypes ?? false, useDefaults: false });
  addFormats(ajv);
  for (const [name, schema] of Object.entries(doc.components.schemas)) ajv.addSchema({ ...rewriteRefs(schema), $id: `${name}.json` } as JsonObject);
  return ajv;
}

export function rewriteRefs<T>(schema: T): T {
  if (Array.isArray(schema)) return schema.map(rewriteRefs) as T;
  if (schema === null || typeof schema !== 'object') return schema;
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(schema as JsonObject)) {
    out[k] = k === '$ref' && typeof v === 'string' ? v.replace(/^#\/components\/schemas\/(.+)$/, '$1.json') : rewriteRefs(v);
  }
  return out as T;
}

/**
 * `/api/v1/machines/{key}` → `/api/v1/machines/:key`. A final `{path}` spans slashes (`/files/{path}` takes
 * `a/b/c`), so it becomes fastify's wildcard `*`; addRoute hands it to the handler as `path`.
 */
export const toFastifyPath = (specPath: string): string => specPath.replace(/\{path\}$/, '*').replace(/\{([^}]+)\}/g, ':$1');

export function operation(doc: OpenApiDoc, method: string, specPath: string): OpenApiOperation {
  const op = doc.paths[specPath]?.[method.toLowerCase()];
  if (!op) throw new Error(`openapi.yaml has no operation ${method.toUpperCase()} ${specPath}`);
  return op;
}

/** Turns Ajv errors into field errors whose `field` is a JSON pointer (`/macs/0`). */
export function fieldErrors(errors: ErrorObject[] | null | undefined, prefix = ''): FieldError[] {
  const out: FieldError[] = [];
  for (const e of errors ?? []) {
    let field = e.instancePath;
    let message = e.message ?? 'is invalid';
    if (e.keyword === 'required') {
      field += `/${String(e.params.missingProperty)}`;
      message = 'is required';
    } else if (e.keyword === 'additionalProperties') {
      field += `/${String(e.params.additionalProperty)}`;
      message = 'is not a known field';
    } else if (e.keyword === 'enum') message = `must be one of ${(e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    // allOf/oneOf wrappers repeat what their branches said.
    if (e.keyword === 'oneOf' || e.keyword === 'anyOf' || e.keyword === 'if') continue;
    const f = `${prefix}${field}` || '/';
    if (!out.some((x) => x.field === f && x.message === message)) out.push({ field: f, message });
  }
  return out;
}

export interface RequestValidators {
  /** Content types the operation accepts (empty: no body). */
  contentTypes: string[];
  bodyRequired: boolean;
  body: Map<string, ValidateFunction>;
  query?: ValidateFunction;
  params?: ValidateFunction;
}

function paramsSchema(params: OpenApiParameter[], where: 'query' | 'path'): JsonObject | undefined {
  const list = params.filter((p) => p.in === where);
  if (list.length === 0) return undefined;
  const properties: JsonObject = {};
  const required: string[] = [];
  let additional: unknown = where === 'query' ? false : true;
  for (const p of list) {
    const s = p.schema ?? {};
    // A free-form object parameter (style form, explode) holds "any other key", e.g. list filters.
    if (s.type === 'object' && where === 'query') additional = s.additionalProperties ?? true;
    else properties[p.name] = s;
    if (p.required) required.push(p.name);
  }
  return rewriteRefs({ type: 'object', properties, required, additionalProperties: additional });
}

export function compileRequestValidators(doc: OpenApiDoc, bodyAjv: Ajv, queryAjv: Ajv, method: string, specPath: string): RequestValidators {
  const op = operation(doc, method, specPath);
  const body = new Map<string, ValidateFunction>();
  for (const [type, media] of Object.entries(op.requestBody?.content ?? {})) body.set(type, bodyAjv.compile(rewriteRefs(media.schema)));
  const q = paramsSchema(op.parameters ?? [], 'query');
  const p = paramsSchema(op.parameters ?? [], 'path');
  return {
    contentTypes: [...body.keys()],
    bodyRequired: op.requestBody?.required === true,
    body,
    query: q ? queryAjv.compile(q) : undefined,
    params: p ? queryAjv.compile(p) : undefined,
  };
}

export function schemaError(code: 'BAD_REQUEST' | 'VALIDATION', what: string, errs: FieldError[]): FarrierError {
  return new FarrierError(code, `${what}: ${errs.map((e) => `${e.field} ${e.message}`).join('; ')}`, errs);
}
