/**
 * Reads the document argument of create/update/patch: inline JSON or YAML, `@file`, a bare file path, or `-`
 * for stdin. Both JSON and YAML are accepted from any source.
 */
import { readFile, stat } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { UsageError } from './failures.js';

export async function readStream(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8');
}

/** Where a document argument points and its raw text. */
export async function readSource(arg: string, stdin: NodeJS.ReadableStream): Promise<{ text: string; origin: string }> {
  if (arg === '-') return { text: await readStream(stdin), origin: 'stdin' };
  if (arg.startsWith('@')) {
    const path = arg.slice(1);
    try {
      return { text: await readFile(path, 'utf8'), origin: path };
    } catch (err) {
      throw new UsageError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  }
  if (!/^\s*[[{]/.test(arg) && !arg.includes('\n') && (await isFile(arg))) {
    return { text: await readFile(arg, 'utf8'), origin: arg };
  }
  return { text: arg, origin: 'argument' };
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** Parses JSON or YAML text; JSON is tried first so its error messages are used for JSON-looking input. */
export function parseDocument(text: string, origin: string): unknown {
  const trimmed = text.trim();
  if (trimmed === '') throw new UsageError(`empty document from ${origin}`);
  if (/^[[{]/.test(trimmed)) {
    try {
      return JSON.parse(trimmed);
    } catch (jsonErr) {
      try {
        return parseYaml(trimmed);
      } catch {
        throw new UsageError(`invalid JSON in ${origin}: ${(jsonErr as Error).message}`);
      }
    }
  }
  try {
    return parseYaml(trimmed);
  } catch (err) {
    throw new UsageError(`invalid YAML in ${origin}: ${(err as Error).message.split('\n')[0]}`);
  }
}

/** Reads and parses a document that must be a JSON object (create, update, merge-patch). */
export async function readObject(arg: string, stdin: NodeJS.ReadableStream): Promise<Record<string, unknown>> {
  const { text, origin } = await readSource(arg, stdin);
  const doc = parseDocument(text, origin);
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) {
    const hint = origin === 'argument' ? ` (no file named ${JSON.stringify(arg)} exists either)` : '';
    throw new UsageError(`expected a JSON or YAML object from ${origin}, got ${describe(doc)}${hint}`);
  }
  return doc as Record<string, unknown>;
}

/** Reads and parses a JSON Patch (RFC 6902) document: an array of operations. */
export async function readPatchOps(arg: string, stdin: NodeJS.ReadableStream): Promise<unknown[]> {
  const { text, origin } = await readSource(arg, stdin);
  const doc = parseDocument(text, origin);
  if (!Array.isArray(doc)) {
    throw new UsageError(`a JSON Patch must be an array of operations, got ${describe(doc)} from ${origin}`);
  }
  return doc;
}

/**
 * Interprets a value typed on the command line (param values, prefs): JSON when it parses as JSON
 * (`true`, `42`, `["a"]`, `"quoted"`), else the plain string.
 */
export function parseValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Splits `key=value` pairs; the first `=` separates. */
export function parseAssignments(pairs: string[], what: string): Array<[string, string]> {
  return pairs.map((pair) => {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`expected ${what} as key=value, got ${JSON.stringify(pair)}`);
    return [pair.slice(0, eq), pair.slice(eq + 1)];
  });
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  return `a ${typeof v}`;
}
