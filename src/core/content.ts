/**
 * Shipped content: the repo's bootenvs/*.yaml and templates/*.hbs, loaded once at start as read-only
 * objects (they never enter the store). A template's id is its file name without `.hbs`; a bootenv's name
 * is its file name without `.yaml`/`.yml` (a `name:` inside must agree). Broken shipped content stops the
 * start with a message naming the file, because serving half of it would boot machines wrongly.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { FarrierError } from '../errors.js';
import type { BootEnv, Param, Template } from '../model/types.js';
import type { Stored } from '../store/store.js';
import { normalizeBootEnv } from './bootenvs.js';
import { normalizeParam } from './params.js';
import { handlebarsError } from './templates.js';

export interface RepoContent {
  bootenvs: Map<string, Stored<BootEnv>>;
  templates: Map<string, Stored<Template>>;
  /** Param definitions from bootenvs/params/*.yaml (each file a list of {name, schema, description, secure}). */
  params: Map<string, Stored<Param>>;
}

async function filesIn(dir: string, exts: string[]): Promise<string[]> {
  try {
    const names = await readdir(dir);
    return names.filter((n) => exts.some((e) => n.endsWith(e))).sort().map((n) => join(dir, n));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

const broken = (file: string, message: string): FarrierError =>
  new FarrierError('VALIDATION', `shipped content ${file}: ${message}`, [{ field: file, message }]);

export async function loadRepoContent(contentDir: string): Promise<RepoContent> {
  const content: RepoContent = { bootenvs: new Map(), templates: new Map(), params: new Map() };
  for (const file of await filesIn(join(contentDir, 'bootenvs', 'params'), ['.yaml', '.yml'])) {
    let doc: unknown;
    try {
      doc = parseYaml(await readFile(file, 'utf8'));
    } catch (err) {
      throw broken(file, (err as Error).message);
    }
    const stamp = (await stat(file)).mtime.toISOString();
    for (const [i, entry] of (Array.isArray(doc) ? doc : [doc]).entries()) {
      if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw broken(file, `entry ${i} must be a map`);
      let param: ReturnType<typeof normalizeParam>;
      try {
        param = normalizeParam(entry as Record<string, unknown>, undefined);
      } catch (err) {
        throw broken(file, `entry ${i}: ${(err as Error).message}`);
      }
      if (content.params.has(param.name)) throw broken(file, `param ${JSON.stringify(param.name)} is defined twice`);
      content.params.set(param.name, { ...param, readOnly: true, createdAt: stamp, updatedAt: stamp, version: 1 });
    }
  }
  for (const file of await filesIn(join(contentDir, 'templates'), ['.hbs'])) {
    const id = basename(file, '.hbs');
    const contents = await readFile(file, 'utf8');
    const err = handlebarsError(contents);
    if (err) throw broken(file, `does not parse: ${err}`);
    const stamp = (await stat(file)).mtime.toISOString();
    content.templates.set(id, { id, contents, description: `shipped template ${basename(file)}`, readOnly: true, createdAt: stamp, updatedAt: stamp, version: 1 });
  }
  for (const file of await filesIn(join(contentDir, 'bootenvs'), ['.yaml', '.yml'])) {
    const name = basename(file).replace(/\.ya?ml$/, '');
    let doc: unknown;
    try {
      doc = parseYaml(await readFile(file, 'utf8'));
    } catch (err) {
      throw broken(file, (err as Error).message);
    }
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw broken(file, 'must hold a YAML map');
    let env: ReturnType<typeof normalizeBootEnv>;
    try {
      env = normalizeBootEnv(doc as Record<string, unknown>, name);
    } catch (err) {
      throw broken(file, (err as Error).message);
    }
    for (const t of env.templates) {
      if (t.templateId !== undefined && !content.templates.has(t.templateId)) {
        throw broken(file, `template ${JSON.stringify(t.name)} uses templateId ${JSON.stringify(t.templateId)}, which is not in templates/`);
      }
    }
    const stamp = (await stat(file)).mtime.toISOString();
    content.bootenvs.set(name, { ...env, readOnly: true, createdAt: stamp, updatedAt: stamp, version: 1 });
  }
  return content;
}
