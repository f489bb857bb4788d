/**
 * `farrier prefs get [key]` and `farrier prefs set key=value ...` over GET/PATCH /api/v1/prefs.
 */
import { Command } from 'commander';
import { contextFor, type Io } from '../context.js';
import { UsageError } from '../failures.js';
import { parseAssignments, parseValue } from '../input.js';
import { cell, renderObject, renderTable, renderValue, type OutputFormat } from '../output.js';

function renderPrefs(prefs: unknown, format: OutputFormat): string {
  if (format !== 'table' || !prefs || typeof prefs !== 'object') return renderObject(prefs, format);
  return renderTable(
    ['pref', 'value'],
    Object.entries(prefs as Record<string, unknown>).map(([k, v]) => [k, cell(v)]),
  );
}

export function prefsCommand(io: Io): Command {
  const group = new Command('prefs').description('show and change global preferences').usage('<get|set> ...')
  group.addHelpText('after', `\nExamples:\n  $ farrier prefs get\n  $ farrier prefs get defaultBootEnv\n  $ farrier prefs set unknownBootEnv=discovery`);

  group
    .command('get')
    .description('print all prefs, or the value of one')
    .argument('[key]', 'pref name, e.g. defaultBootEnv')
    .addHelpText(
      'after',
      `
Examples:
  $ farrier prefs get
  $ farrier prefs get unknownBootEnv`,
    )
    .action(async (key: string | undefined, _opts: unknown, cmd: Command) => {
      const ctx = contextFor(cmd, io);
      const res = await ctx.client.get<Record<string, unknown>>('prefs');
      if (key === undefined) {
        ctx.out(renderPrefs(res.body, ctx.format));
        return;
      }
      if (!res.body || !(key in res.body)) {
        throw new UsageError(`no pref named ${JSON.stringify(key)}; known: ${Object.keys(res.body ?? {}).join(', ')}`);
      }
      ctx.out(renderValue(res.body[key], ctx.format));
    });

  group
    .command('set')
    .description('change one or more prefs (validated by the daemon); prints all prefs')
    .argument('<key=value...>', 'assignments; values are JSON when they parse as JSON, else strings')
    .addHelpText(
      'after',
      `
Examples:
  $ farrier prefs set defaultBootEnv=local
  $ farrier prefs set unknownBootEnv=discovery autoRegister=true`,
    )
    .action(async (pairs: string[], _opts: unknown, cmd: Command) => {
      const ctx = contextFor(cmd, io);
      const body = Object.fromEntries(parseAssignments(pairs, 'a pref').map(([k, v]) => [k, parseValue(v)]));
      const res = await ctx.client.request('PATCH', 'prefs', { body, contentType: 'application/merge-patch+json' });
      ctx.out(renderPrefs(res.body, ctx.format));
    });

  return group;
}
