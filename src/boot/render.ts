/**
 * Handlebars rendering of boot files in strict mode: a missing value is an error naming the machine,
 * bootenv, template, line and missing name — never an empty string in a kickstart. Compiled templates are
 * cached by (id, contents), so an edit through the API is used by the very next request. Rendering is
 * bounded (partial depth, partial calls, output size, helper/block steps, wall time) so a template that
 * recurses, loops over huge data or produces megabytes is reported as a render error, not a hung daemon.
 * Handlebars runs synchronously, so the step and time budgets are enforced from inside the render: every
 * helper (the built-in `each`/`if`/`with`/`unless` included) is wrapped to count its calls and each run of
 * its block body, and to check the clock.
 */
import Handlebars from 'handlebars';
import { nestingError } from '../core/templateNesting.js';
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
  /** Helper calls plus block-body runs (one per `each` iteration) per render: nested loops over big data. */
  maxSteps: number;
  /** Wall-clock budget of one render in milliseconds, checked every STEPS_PER_CLOCK_CHECK steps and per partial. */
  maxMillis: number;
}

/** Date.now() is cheap but not free; a step is far cheaper. */
const STEPS_PER_CLOCK_CHECK = 256;

const defaultLimits: RenderLimits = {
  maxOutputBytes: 16 * 1024 * 1024,
  maxDepth: 16,
  maxPartialCalls: 10_000,
  maxTemplates: 64,
  maxSteps: 500_000,
  maxMillis: 5_000,
};

interface Compiled {
  /** The source compiled; compared whole (the same string object when templates come from a cache). */
  contents: string;
  fn: HandlebarsTemplateDelegate;
  partials: string[];
  /** Top-level names the template reads, to compute `token` and `bootParams` only when used. */
  roots: Set<string>;
}

interface RenderState {
  depth: number;
  calls: number;
  bytes: number;
  steps: number;
  /** Date.now() when the run began. */
  start: number;
  /** Block bodies running inside one another: only the outermost ones' output is added to `bytes`. */
  blockDepth: number;
}

/** Handlebars' helper options as the budget wrapper sees them. */
interface BlockOptions {
  fn?: (...args: unknown[]) => unknown;
  inverse?: (...args: unknown[]) => unknown;
  loc?: { start: { line: number } };
}

type HelperFn = (this: unknown, ...args: unknown[]) => unknown;

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
  /** The run in progress (Handlebars is synchronous, so there is at most one at a time). */
  private active: RenderState | undefined;

  constructor(
    private readonly data: BootData,
    limits: Partial<RenderLimits> = {},
    private readonly maxCached = 2000,
  ) {
    this.limits = { ...defaultLimits, ...limits };
    for (const [name, fn] of Object.entries(bootHelpers)) this.hb.registerHelper(name, fn);
    for (const [name, fn] of Object.entries(this.hb.helpers)) this.hb.registerHelper(name, this.budgeted(fn as HelperFn));
  }

  /** Counts a step of the active run and throws (naming the line) when the step or time budget is spent. */
  private step(state: RenderState, line: number | undefined): void {
    state.steps += 1;
    if (state.steps > this.limits.maxSteps) {
      throw new HelperError(`render budget spent: more than ${this.limits.maxSteps} helper calls and block iterations (a loop over huge data, or nested loops?)`, line);
    }
    if (state.steps % STEPS_PER_CLOCK_CHECK === 0 && Date.now() - state.start > this.limits.maxMillis) {
      throw new HelperError(`render budget spent: rendering took longer than ${this.limits.maxMillis} ms`, line);
    }
  }

  /** `helper` with every call and every run of its block bodies counted against the active run's budget. */
  private budgeted(helper: HelperFn): HelperFn {
    const self = this;
    return function (this: unknown, ...args: unknown[]): unknown {
      const state = self.active;
      const options = args[args.length - 1] as BlockOptions | undefined;
      if (!state || typeof options !== 'object' || options === null) return helper.apply(this, args);
      const line = options.loc?.start.line;
      self.step(state, line);
      if (typeof options.fn !== 'function') return helper.apply(this, args);
      const body = (inner: ((...a: unknown[]) => unknown) | undefined): ((...a: unknown[]) => unknown) | undefined => {
        if (typeof inner !== 'function') return inner;
        // Handlebars reads properties off its program functions (blockParams, program id); keep them.
        return Object.assign(function (this: unknown, ...a: unknown[]): unknown {
          self.step(state, line);
          state.blockDepth += 1;
          let out: unknown;
          try {
            out = inner.apply(this, a);
          } finally {
            state.blockDepth -= 1;
          }
          if (state.blockDepth === 0 && typeof out === 'string') {
            state.bytes += out.length;
            if (state.bytes > self.limits.maxOutputBytes) throw new HelperError(`output exceeds ${self.limits.maxOutputBytes} bytes`, line);
          }
          return out;
        }, inner);
      };
      args[args.length - 1] = { ...options, fn: body(options.fn), inverse: body(options.inverse) };
      return helper.apply(this, args);
    };
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
    const cached = this.cache.get(source.id);
    if (cached && cached.contents === source.contents) return cached;
    // Templates are checked when written; this catches ones stored or shipped before that check existed,
    // whose parse alone could hold the event loop for minutes.
    const deep = nestingError(source.contents);
    if (deep) {
      const line = /^line (\d+): /.exec(deep);
      throw renderError(where, source.id, line ? Number(line[1]) : undefined, line ? deep.slice(line[0].length) : deep);
    }
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
    const compiled: Compiled = { contents: source.contents, fn, partials: [...scanner.partials], roots: scanner.roots };
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
    const state: RenderState = { depth: 0, calls: 0, bytes: 0, steps: 0, start: Date.now(), blockDepth: 0 };
    const wrapped: Record<string, HandlebarsTemplateDelegate> = {};
    for (const [pid, compiled] of partials) wrapped[pid] = this.partialFn(pid, compiled, state, where);
    let out: string;
    const outer = this.active;
    this.active = state;
    try {
      out = main.fn(context, { partials: wrapped });
    } catch (err) {
      throw located(err, where, id).error;
    } finally {
      this.active = outer;
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
        if (Date.now() - state.start > limits.maxMillis) {
          throw new Located(renderError(where, id, undefined, `render budget spent: rendering took longer than ${limits.maxMillis} ms`));
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
