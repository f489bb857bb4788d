/**
 * Param helpers shared by machines and profiles: `<coll> params <key> [document] [--aggregate]` and
 * `<coll> param get|set|delete <key> <name> [value]`.
 */
import { Command } from 'commander';
import { segment } from '../client.js';
import { contextFor, type Io } from '../context.js';
import { parseValue, readObject } from '../input.js';
import { cell, renderObject, renderTable, renderValue, type OutputFormat } from '../output.js';

interface Owner {
  coll: 'machines' | 'profiles';
  noun: string;
  keyHelp: string;
  exampleKey: string;
}

export function addParamCommands(group: Command, owner: Owner, io: Io): void {
  const base = (key: string): string => `${owner.coll}/${segment(key)}/params`;
  const aggregate = owner.coll === 'machines';

  const params = group
    .command('params')
    .description(`show a ${owner.noun}'s params, or replace them all with a document`)
    .argument('<key>', owner.keyHelp)
    .argument('[document]', 'new params object (JSON/YAML inline, @file, path or -); replaces all params');
  if (aggregate) {
    params.option('-a, --aggregate', 'merged view: machine → its profiles in order → global → schema default, with sources');
  }
  params
    .addHelpText(
      'after',
      `
Examples:
  $ farrier ${owner.coll} params ${owner.exampleKey}${
    aggregate ? `\n  $ farrier ${owner.coll} params ${owner.exampleKey} --aggregate` : ''
  }
  $ farrier ${owner.coll} params ${owner.exampleKey} '{"ntp-server":"10.0.0.1","rack":"r4"}'`,
    )
    .action(async (key: string, doc: string | undefined, opts: { aggregate?: boolean }, cmd: Command) => {
      const ctx = contextFor(cmd, io);
      if (doc !== undefined) {
        const body = await readObject(doc, io.stdin);
        const res = await ctx.client.request('PUT', base(key), { body });
        ctx.out(renderObject(res.body, ctx.format));
        return;
      }
      const res = await ctx.client.get(base(key), opts.aggregate ? { aggregate: true } : {});
      ctx.out(renderParams(res.body, ctx.format));
    });

  const param = group
    .command('param')
    .description(`get, set or delete one param of a ${owner.noun}`)
    .usage('<get|set|delete> <key> <name> [value]')
    .addHelpText(
      'after',
      `
Examples:
  $ farrier ${owner.coll} param get ${owner.exampleKey} ntp-server
  $ farrier ${owner.coll} param set ${owner.exampleKey} ntp-server 10.0.0.1
  $ farrier ${owner.coll} param delete ${owner.exampleKey} ntp-server`,
    );

  param
    .command('get')
    .description(`print one param value of a ${owner.noun}`)
    .argument('<key>', owner.keyHelp)
    .argument('<name>', 'param name')
    .addHelpText('after', `\nExamples:\n  $ farrier ${owner.coll} param get ${owner.exampleKey} ntp-server`)
    .action(async (key: string, name: string, _opts: unknown, cmd: Command) => {
      const ctx = contextFor(cmd, io);
      const res = await ctx.client.get(`${base(key)}/${segment(name)}`);
      ctx.out(renderValue(res.body, ctx.format));
    });

  param
    .command('set')
    .description(`set one param of a ${owner.noun} (validated against the param's schema)`)
    .argument('<key>', owner.keyHelp)
    .argument('<name>', 'param name')
    .argument('<value>', 'the value: JSON (42, true, ["a"], {"k":1}) or else a plain string')
    .addHelpText(
      'after',
      `
Examples:
  $ farrier ${owner.coll} param set ${owner.exampleKey} ntp-server 10.0.0.1
  $ farrier ${owner.coll} param set ${owner.exampleKey} disk-count 2
  $ farrier ${owner.coll} param set ${owner.exampleKey} zip-code '"01234"'   # force a string`,
    )
    .action(async (key: string, name: string, value: string, _opts: unknown, cmd: Command) => {
      const ctx = contextFor(cmd, io);
      const res = await ctx.client.request('PUT', `${base(key)}/${segment(name)}`, { body: parseValue(value) });
      ctx.out(renderValue(res.body, ctx.format));
    });

  param
    .command('delete')
    .description(`remove one param from a ${owner.noun}`)
    .argument('<key>', owner.keyHelp)
    .argument('<name>', 'param name')
    .addHelpText('after', `\nExamples:\n  $ farrier ${owner.coll} param delete ${owner.exampleKey} ntp-server`)
    .action(async (key: string, name: string, _opts: unknown, cmd: Command) => {
      const ctx = contextFor(cmd, io);
      const res = await ctx.client.request('DELETE', `${base(key)}/${segment(name)}`);
      if (res.body !== undefined && res.body !== '') ctx.out(renderValue(res.body, ctx.format));
      else ctx.err(`deleted param ${name}\n`);
    });
}

interface SourcedValue {
  value: unknown;
  source?: unknown;
}

const isSourced = (v: unknown): v is SourcedValue => !!v && typeof v === 'object' && 'value' in v;

/**
 * Params as a NAME/VALUE(/SOURCE) table; aggregated views (`{name: {value, source}}`) get the SOURCE column.
 * JSON and YAML output stay exactly as the API returned them.
 */
export function renderParams(body: unknown, format: OutputFormat): string {
  if (format !== 'table' || !body || typeof body !== 'object' || Array.isArray(body)) return renderObject(body, format);
  const entries = Object.entries(body as Record<string, unknown>);
  if (entries.length > 0 && entries.every(([, v]) => isSourced(v))) {
    return renderTable(
      ['name', 'value', 'source'],
      entries.map(([k, v]) => [k, cell((v as SourcedValue).value), cell((v as SourcedValue).source)]),
    );
  }
  return renderTable(
    ['name', 'value'],
    entries.map(([k, v]) => [k, cell(v)]),
  );
}
