/**
 * The generic verbs every collection shares: list, show, create, update (PUT), patch (merge or JSON Patch)
 * and delete.
 */
import { Command, Option } from 'commander';
import { segment, type Query } from '../client.js';
import type { Collection } from '../collections.js';
import { contextFor, type Io } from '../context.js';
import { UsageError } from '../failures.js';
import { parseAssignments, readObject, readPatchOps } from '../input.js';
import { renderList, renderObject } from '../output.js';

const DOC_HELP = 'a JSON or YAML document inline, @file or a file path, or - to read stdin';

const collect = (value: string, previous: string[]): string[] => [...previous, value];

export function nonNegativeInt(name: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value)) throw new UsageError(`${name} must be a non-negative integer, got ${JSON.stringify(value)}`);
    return Number(value);
  };
}

function groupExamples(coll: Collection): string {
  const lines = [`  $ farrier ${coll.name} list`, `  $ farrier ${coll.name} show ${coll.exampleKey}`];
  if (coll.exampleCreate) lines.push(`  $ farrier ${coll.name} create ${coll.exampleCreate}`);
  if (coll.examplePatch) lines.push(`  $ farrier ${coll.name} patch ${coll.exampleKey} ${coll.examplePatch}`);
  lines.push(`  $ farrier ${coll.name} delete ${coll.exampleKey}`, ...(coll.extraExamples ?? []).map((e) => `  $ ${e}`));
  return `\nExamples:\n${lines.join('\n')}\n\nRun \`farrier ${coll.name} <command> --help\` for details.`;
}

/** Adds `farrier <collection>` with its generic verbs; returns the group so callers can add special verbs. */
export function collectionCommand(coll: Collection, io: Io): Command {
  const group = new Command(coll.name)
    .description(`manage ${coll.name} (key: ${coll.keyHelp})`)
    .usage('<command> [options]');
  group.addHelpText('after', () => groupExamples(coll));
  const verbs = new Set(coll.verbs);
  const path = (key: string): string => `${coll.name}/${segment(key)}`;

  if (verbs.has('list')) {
    group
      .command('list')
      .description(`list ${coll.name}, optionally filtered by field`)
      .argument('[filters...]', 'field filters as key=value (same as --filter)')
      .option('-f, --filter <key=value>', 'only objects whose field equals value (repeatable)', collect, [])
      .option('--limit <n>', 'return at most n objects', nonNegativeInt('--limit'))
      .option('--offset <n>', 'skip the first n objects', nonNegativeInt('--offset'))
      .option('--sort <field>', 'sort by field (prefix with - for descending)')
      .addHelpText(
        'after',
        `
Filters match fields exactly; nested params use param.<name>=<value>. The total number of matches
is reported on stderr in table output when only part of the list is shown.

Examples:
  $ farrier ${coll.name} list
  $ farrier ${coll.name} list ${coll.exampleFilter}
  $ farrier ${coll.name} list --filter ${coll.exampleFilter} --limit 10 --offset 20 --sort ${coll.columns[0]?.header ?? 'name'}
  $ farrier ${coll.name} list -o yaml`,
      )
      .action(async (filters: string[], opts: { filter: string[]; limit?: number; offset?: number; sort?: string }, cmd: Command) => {
        const ctx = contextFor(cmd, io);
        const query: Query = {};
        for (const [k, v] of parseAssignments([...opts.filter, ...filters], 'a filter')) query[k] = v;
        query.limit = opts.limit;
        query.offset = opts.offset;
        query.sort = opts.sort;
        const res = await ctx.client.get<unknown[]>(coll.name, query);
        const items = Array.isArray(res.body) ? res.body : [];
        ctx.out(renderList(items, ctx.format, coll.columns));
        const total = Number(res.headers.get('x-total-count'));
        if (ctx.format === 'table' && Number.isFinite(total) && total > items.length) {
          ctx.err(`showing ${items.length} of ${total} ${coll.name} (use --limit/--offset to page)\n`);
        }
      });
  }

  if (verbs.has('show')) {
    group
      .command('show')
      .description(`show one ${coll.noun}`)
      .argument('<key>', coll.keyHelp)
      .addHelpText(
        'after',
        `
Examples:
  $ farrier ${coll.name} show ${coll.exampleKey}
  $ farrier ${coll.name} show ${coll.exampleKey} -o yaml`,
      )
      .action(async (key: string, _opts: unknown, cmd: Command) => {
        const ctx = contextFor(cmd, io);
        const res = await ctx.client.get(path(key));
        ctx.out(renderObject(res.body, ctx.format));
      });
  }

  if (verbs.has('create')) {
    group
      .command('create')
      .description(`create a ${coll.noun}`)
      .argument('<document>', DOC_HELP)
      .addHelpText(
        'after',
        `
Examples:
  $ farrier ${coll.name} create ${coll.exampleCreate ?? '@object.yaml'}
  $ farrier ${coll.name} create ./${coll.noun}.yaml
  $ cat ${coll.noun}.json | farrier ${coll.name} create -`,
      )
      .action(async (doc: string, _opts: unknown, cmd: Command) => {
        const ctx = contextFor(cmd, io);
        const body = await readObject(doc, io.stdin);
        const res = await ctx.client.request('POST', coll.name, { body });
        ctx.out(renderObject(res.body, ctx.format));
      });
  }

  if (verbs.has('update')) {
    group
      .command('update')
      .description(`replace a ${coll.noun} with the given document (HTTP PUT; omitted fields take their defaults)`)
      .argument('<key>', coll.keyHelp)
      .argument('<document>', DOC_HELP)
      .addHelpText(
        'after',
        `
To change only some fields, use \`farrier ${coll.name} patch\`.

Examples:
  $ farrier ${coll.name} show ${coll.exampleKey} -o yaml > ${coll.noun}.yaml   # edit, then:
  $ farrier ${coll.name} update ${coll.exampleKey} @${coll.noun}.yaml`,
      )
      .action(async (key: string, doc: string, _opts: unknown, cmd: Command) => {
        const ctx = contextFor(cmd, io);
        const body = await readObject(doc, io.stdin);
        const res = await ctx.client.request('PUT', path(key), { body });
        ctx.out(renderObject(res.body, ctx.format));
      });
  }

  if (verbs.has('patch')) {
    group
      .command('patch')
      .description(`change some fields of a ${coll.noun} (JSON merge patch, RFC 7386, unless --json-patch)`)
      .argument('<key>', coll.keyHelp)
      .argument('<document>', DOC_HELP)
      .addOption(new Option('--json-patch', 'the document is a JSON Patch (RFC 6902) array of operations'))
      .addHelpText(
        'after',
        `
A merge patch sets the given fields; null removes a field. A JSON Patch may include "test" operations,
which make the whole patch fail (409) if the object changed since you read it.

Examples:
  $ farrier ${coll.name} patch ${coll.exampleKey} ${coll.examplePatch ?? `'{"description":"x"}'`}
  $ farrier ${coll.name} patch ${coll.exampleKey} --json-patch '[{"op":"test","path":"/version","value":3},{"op":"replace","path":"/description","value":"x"}]'`,
      )
      .action(async (key: string, doc: string, opts: { jsonPatch?: boolean }, cmd: Command) => {
        const ctx = contextFor(cmd, io);
        const res = opts.jsonPatch
          ? await ctx.client.request('PATCH', path(key), {
              body: await readPatchOps(doc, io.stdin),
              contentType: 'application/json-patch+json',
            })
          : await ctx.client.request('PATCH', path(key), {
              body: await readObject(doc, io.stdin),
              contentType: 'application/merge-patch+json',
            });
        ctx.out(renderObject(res.body, ctx.format));
      });
  }

  if (verbs.has('delete')) {
    group
      .command('delete')
      .description(`delete a ${coll.noun}; prints the deleted object`)
      .argument('<key>', coll.keyHelp)
      .addHelpText(
        'after',
        `
Deleting an object still in use (e.g. a bootenv a machine uses) fails with 409 naming the users.

Examples:
  $ farrier ${coll.name} delete ${coll.exampleKey}`,
      )
      .action(async (key: string, _opts: unknown, cmd: Command) => {
        const ctx = contextFor(cmd, io);
        const res = await ctx.client.request('DELETE', path(key));
        if (res.body !== undefined && res.body !== '') ctx.out(renderObject(res.body, ctx.format));
        else ctx.err(`deleted ${coll.noun} ${key}\n`);
      });
  }

  return group;
}
