/**
 * `farrier machines timeline <key> [--follow]`: what Farrier saw of a machine's boots (DHCP decisions, files
 * fetched, render errors, bootenv changes, callbacks), oldest first; --follow then prints new entries as
 * they are recorded (the `timeline` events of GET /api/v1/events, filtered to this machine).
 */
import type { Command } from 'commander';
import { stringify as toYaml } from 'yaml';
import { segment } from '../client.js';
import { contextFor, type Io } from '../context.js';
import { type OutputFormat, renderList } from '../output.js';
import { nonNegativeInt } from './crud.js';

interface Entry {
  time: string;
  machine: string;
  kind: string;
  summary: string;
}

const columns = [
  { header: 'time', value: (r: Record<string, unknown>) => r.time },
  { header: 'kind', value: (r: Record<string, unknown>) => r.kind },
  { header: 'what', value: (r: Record<string, unknown>) => r.summary },
];

/** One followed entry: a JSON line, a YAML document, or an unpadded table row. */
function renderLine(e: Entry, format: OutputFormat): string {
  if (format === 'json') return JSON.stringify(e) + '\n';
  if (format === 'yaml') return '---\n' + toYaml(e);
  return `${e.time}  ${e.kind.padEnd(8)}  ${e.summary}\n`;
}

export function addTimelineCommand(group: Command, io: Io): void {
  group
    .command('timeline')
    .description("a machine's boot timeline: DHCP decisions, TFTP/HTTP files fetched, render errors, bootenv changes, callbacks")
    .argument('<key>', 'uuid, name:<name> or mac:<mac>')
    .option('-f, --follow', 'keep printing new entries as they happen (Ctrl-C to stop)')
    .option('--limit <n>', 'only the newest n entries (at most 500 are kept per machine)', nonNegativeInt('--limit'))
    .option('-n, --count <n>', 'with --follow: exit after n new entries', nonNegativeInt('--count'))
    .addHelpText(
      'after',
      `
This is what to read when a machine does not boot: find the last step that worked.

Examples:
  $ farrier machines timeline name:web1
  $ farrier machines timeline mac:52:54:00:12:34:56 --follow
  $ farrier machines timeline name:web1 -o json --limit 20`,
    )
    .action(async (key: string, opts: { follow?: boolean; limit?: number; count?: number }, cmd: Command) => {
      const ctx = contextFor(cmd, io);
      const query = opts.limit ? { limit: opts.limit } : {};
      if (!opts.follow) {
        const res = await ctx.client.request<Entry[]>('GET', `machines/${segment(key)}/timeline`, { query });
        ctx.out(renderList(res.body, ctx.format, columns));
        return;
      }
      const machine = (await ctx.client.request<{ uuid: string }>('GET', `machines/${segment(key)}`)).body;
      const abort = new AbortController();
      const stop = (): void => abort.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        // Subscribe before reading the stored entries, so nothing recorded in between is missed.
        const stream = ctx.client.events('events', { type: 'timeline' }, abort.signal)[Symbol.asyncIterator]();
        const first = stream.next();
        const history = (await ctx.client.request<Entry[]>('GET', `machines/${segment(machine.uuid)}/timeline`, { query })).body;
        const seen = new Set(history.map((e) => JSON.stringify(e)));
        for (const e of history) ctx.out(renderLine(e, ctx.format));
        if (opts.count === 0) return;
        let printed = 0;
        for (let next = await first; !next.done; next = await stream.next()) {
          const entry = JSON.parse(next.value.data).object as Entry | undefined;
          if (!entry || entry.machine !== machine.uuid || seen.has(JSON.stringify(entry))) continue;
          ctx.out(renderLine(entry, ctx.format));
          if (opts.count !== undefined && ++printed >= opts.count) break;
        }
        await stream.return?.(undefined);
      } finally {
        abort.abort();
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }
    });
}
