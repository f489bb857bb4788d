/**
 * Handlebars rendering of boot files in strict mode: a missing value is an error naming the machine,
 * bootenv, template, line and missing name — never an empty string in a kickstart. Compiled templates are
 * cached by (id, contents hash), so an edit through the API is used by the very next request. Rendering is
 * bounded (partial depth, partial calls, output size) so a template that recurses is reported, not a hang.
 */
import { createHash } from 'node:crypto';
import Handlebars from 'handlebars';
import { FarrierError } from '../errors.js';
import type { BootEnv, Machine } from '../model/types.js';
import { bootFiles, machineContext, type RenderContext } from './context.js';
import { bootHelpers, HelperError } from './helpers.js';
import type { BootData } from './ports.js';

export interface TemplateSource {
  id: string;
  contents: string;
}

export interface RenderJob {
  machine: Machine | null;
  bootenv: BootEnv;
  template: TemplateSource;
  /** `http://<address the client reached>:<http port>`. */
  provisionerUrl: string;
}

export interface RenderLimits {
  maxOutputBytes: number;
  /** Partials nested deeper than this are taken for runaway recursion. */
  maxDepth: number;
  /** Partial invocations per render (catches exponential fan-out that stays shallow). */
  maxPartialCalls: number;
  /** Distinct templates one render may pull in through partials. */
  maxTemplates: number;
}

const defaultLimits: RenderLimits = {
  maxOutputBytes: 16 * 1024 * 1024,
  maxDepth: 16,
  maxPartialCalls: 10_000,
  maxTemplates: 64,
};

interface Compiled {
  hash: string;
  fn: HandlebarsTemplateDelegate;
  partials: string[];
  /** Top-level names the template reads, to compute `token` and `bootParams` only when used. */
  roots: Set<string>;
}

interface RenderState {
  depth: number;
  calls: number;
  bytes: number;
}

/** Collects partial names and top-level context names from a template's syntax tree. */
class Scanner extends Handlebars.Visitor {
  readonly partials = new Set<string>();
  readonly roots = new Set<string>();
  dynamicPartial = false;

  override PartialStatement(partial: hbs.AST.PartialStatement): void {
    this.notePartial(partial.name);
    super.PartialStatement(partial);
  }

  override PartialBlockStatement(partial: hbs.AST.PartialBlockStatement): void {
    this.notePartial(partial.name);
    super.PartialBlockStatement(partial);
  }

  override PathExpression(path: hbs.AST.PathExpression): void {
    if (!path.data && path.parts.length > 0) this.roots.add(path.parts[0]);
    super.PathExpression(path);
  }

  private notePartial(name: hbs.AST.PathExpression | hbs.AST.SubExpression): void {
    if (name.type === 'PathExpression') this.partials.add(name.original);
    else if ('value' in name && typeof name.value === 'string') this.partials.add(name.value);
    else this.dynamicPartial = true;
  }
}

const hash = (text: string): string => createHash('sha256').update(text).digest('hex');

/** Internal marker: the error already names its template and must pass outer partials unchanged. */
class Located extends Error {
  constructor(readonly error: FarrierError) {
    super(error.message);
  }
}

export class Renderer {
  private readonly hb = Handlebars.create();
  private readonly cache = new Map<string, Compiled>();
  private readonly limits: RenderLimits;

  constructor(
    private readonly data: BootData,
    limits: Partial<RenderLimits> = {},
    private readonly maxCached = 2000,
  ) {
    this.limits = { ...defaultLimits, ...limits };
    for (const [name, fn] of Object.entries(bootHelpers)) this.hb.registerHelper(name, fn);
  }

  /** Renders one boot file for a machine (or, with machine null, an unknown machine). */
  async render(job: RenderJob): Promise<string> {
    const where = { machine: job.machine, bootenv: job.bootenv.name };
    const bootParamsSource: TemplateSource = { id: `bootenv/${job.bootenv.name}/bootParams`, contents: job.bootenv.bootParams };
    const main = this.compile(job.template, where);
    const partials = new Map<string, Compiled>();
    await this.loadPartials(main, job.template.id, partials, where);
    const roots = new Set(main.roots);
    for (const p of partials.values()) for (const r of p.roots) roots.add(r);

    let bootParams: { compiled: Compiled; partials: Map<string, Compiled> } | undefined;
    if (roots.has('bootParams')) {
      const compiled = this.compile(bootParamsSource, where);
      const bpPartials = new Map<string, Compiled>();
      await this.loadPartials(compiled, bootParamsSource.id, bpPartials, where);
      for (const r of compiled.roots) roots.add(r);
      for (const p of bpPartials.values()) for (const r of p.roots) roots.add(r);
      bootParams = { compiled, partials: bpPartials };
    }

    const context = await this.context(job, roots.has('token'));
    if (bootParams) {
      context.bootParams = this.run(bootParams.compiled, bootParamsSource.id, bootParams.partials, context, where).trim();
    }
    return this.run(main, job.template.id, partials, context, where);
  }

  /**
   * Renders bootenv templates' `path`s (no token, no bootParams) to find which files they produce; one
   * context serves them all, so a lookup reads the machine's params once.
   */
  async renderPaths(bootenv: BootEnv, machine: Machine | null, provisionerUrl: string, paths: Array<{ id: string; path: string }>): Promise<string[]> {
    const where = { machine, bootenv: bootenv.name };
    const context = await this.context({ machine, bootenv, provisionerUrl, template: { id: '', contents: '' } }, false);
    return paths.map(({ id, path }) => this.run(this.compile({ id, contents: path }, where), id, new Map(), context, where).trim());
  }

  private async context(job: RenderJob, withToken: boolean): Promise<RenderContext> {
    const { machine, bootenv, provisionerUrl } = job;
    const aggregated = await this.data.params(machine);
    const params = { ...aggregated.values };
    // An unknown machine's files are public: secure values belong only in a known machine's own files.
    if (!machine) for (const name of aggregated.secure) delete params[name];
    const context: RenderContext = {
      bootenv,
      params,
      provisionerUrl,
      apiUrl: `${provisionerUrl}/api/v1`,
      boot: bootFiles(bootenv, machine, provisionerUrl),
    };
    if (machine) context.machine = machineContext(machine, provisionerUrl);
    if (machine && withToken) context.token = await this.data.mintMachineToken(machine);
    return context;
  }

  private compile(source: TemplateSource, where: Where): Compiled {
    const h = hash(source.contents);
    const cached = this.cache.get(source.id);
    if (cached && cached.hash === h) return cached;
    let ast: hbs.AST.Program;
    try {
      ast = this.hb.parse(source.contents);
    } catch (err) {
      const line = /line (\d+)/.exec(String((err as Error).message))?.[1];
      throw renderError(where, source.id, line ? Number(line) : undefined, `does not parse: ${firstLine(err)}`);
    }
    const scanner = new Scanner();
    scanner.accept(ast);
    if (scanner.dynamicPartial) {
      throw renderError(where, source.id, undefined, 'dynamic partial names are not supported; name the template id: {{> id}}');
    }
    const fn = this.hb.compile(ast, { strict: true, noEscape: true });
    const compiled: Compiled = { hash: h, fn, partials: [...scanner.partials], roots: scanner.roots };
    this.cache.delete(source.id);
    this.cache.set(source.id, compiled);
    if (this.cache.size > this.maxCached) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
    return compiled;
  }

  private async loadPartials(from: Compiled, fromId: string, into: Map<string, Compiled>, where: Where): Promise<void> {
    const queue: Array<[string, string]> = from.partials.map((p) => [fromId, p]);
    while (queue.length > 0) {
      const [parent, id] = queue.shift() as [string, string];
      if (into.has(id)) continue;
      if (into.size >= this.limits.maxTemplates) {
        throw renderError(where, parent, undefined, `includes more than ${this.limits.maxTemplates} templates`);
      }
      const tpl = await this.data.template(id);
      if (!tpl) throw renderError(where, parent, undefined, `includes partial "${id}", which is not a template`, id);
      const compiled = this.compile({ id, contents: tpl.contents }, where);
      into.set(id, compiled);
      for (const p of compiled.partials) queue.push([id, p]);
    }
  }

  private run(main: Compiled, id: string, partials: Map<string, Compiled>, context: RenderContext, where: Where): string {
    const state: RenderState = { depth: 0, calls: 0, bytes: 0 };
    const wrapped: Record<string, HandlebarsTemplateDelegate> = {};
    for (const [pid, compiled] of partials) wrapped[pid] = this.partialFn(pid, compiled, state, where);
    let out: string;
    try {
      out = main.fn(context, { partials: wrapped });
    } catch (err) {
      throw located(err, where, id).error;
    }
    if (Buffer.byteLength(out) > this.limits.maxOutputBytes) {
      throw renderError(where, id, undefined, `output exceeds ${this.limits.maxOutputBytes} bytes`);
    }
    return out;
  }

  private partialFn(id: string, compiled: Compiled, state: RenderState, where: Where): HandlebarsTemplateDelegate {
    const limits = this.limits;
    // Handlebars passes its runtime options as the second argument; they are forwarded untouched.
    return (context: unknown, options?: Handlebars.RuntimeOptions) => {
      state.depth += 1;
      state.calls += 1;
      try {
        if (state.depth > limits.maxDepth) {
          throw new Located(renderError(where, id, undefined, `partials nested deeper than ${limits.maxDepth}: does "${id}" include itself?`));
        }
        if (state.calls > limits.maxPartialCalls) {
          throw new Located(renderError(where, id, undefined, `more than ${limits.maxPartialCalls} partial calls`));
        }
        let out: string;
        try {
          out = compiled.fn(context, options);
        } catch (err) {
          throw located(err, where, id);
        }
        state.bytes += out.length;
        if (state.bytes > limits.maxOutputBytes) {
          throw new Located(renderError(where, id, undefined, `output exceeds ${limits.maxOutputBytes} bytes`));
        }
        return out;
      } finally {
        state.depth -= 1;
      }
    };
  }
}

interface Where {
  machine: Machine | null;
  bootenv: string;
}

function firstLine(err: unknown): string {
  return String(err instanceof Error ? err.message : err).split('\n')[0];
}

/** Turns whatever a template run threw into a RENDER error naming the innermost template. */
function located(err: unknown, where: Where, id: string): Located {
  if (err instanceof Located) return err;
  if (err instanceof HelperError) return new Located(renderError(where, id, err.line, err.message, err.missing));
  const e = err as { message?: string; lineNumber?: number };
  const message = String(e.message ?? err);
  const strict = /^"(.+)" not defined in .* - (\d+):\d+$/.exec(message);
  if (strict) return new Located(renderError(where, id, Number(strict[2]), `missing value "${strict[1]}"`, strict[1]));
  return new Located(renderError(where, id, typeof e.lineNumber === 'number' ? e.lineNumber : undefined, firstLine(err)));
}

function renderError(where: Where, template: string, line: number | undefined, reason: string, missing?: string): FarrierError {
  const who = where.machine ? `machine ${where.machine.name} (${where.machine.uuid})` : 'unknown machine';
  const at = line === undefined ? '' : ` line ${line}`;
  return new FarrierError('RENDER', `cannot render for ${who}, bootenv ${where.bootenv}, template ${template}${at}: ${reason}`, [], {
    machine: where.machine?.uuid ?? null,
    bootenv: where.bootenv,
    template,
    line: line ?? null,
    missing: missing ?? null,
  });
}
