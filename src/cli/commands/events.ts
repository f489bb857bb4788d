/**
 * `farrier events watch`: follows the daemon's Server-Sent Events stream and prints each event as it
 * arrives, until interrupted or --count events were seen.
 */
import { Command } from 'commander';
import { stringify as toYaml } from 'yaml';
import { contextFor, type Io } from '../context.js';
import { type OutputFormat } from '../output.js';
import { nonNegativeInt } from './crud.js';

interface EventShape {
  time?: string;
  type?: string;
  action?: string;
  key?: string;
}

function renderEvent(data: string, format: OutputFormat): string {
  let ev: unknown;
  try {
    ev = JSON.parse(data);
  } catch {
    return data + '\n';
  }
  if (format === 'json') return JSON.stringify(ev) + '\n';
  if (format === 'yaml') return '---\n' + toYaml(ev);
  const e = (ev ?? {}) as EventShape;
  return [e.time ?? '-', e.type ?? '-', e.action ?? '-', e.key ?? '-'].join('  ') + '\n';
}

export function eventsCommand(io: Io): Command {
  const group = new Command('events').description('follow live events').usage('watch [options]')
  group.addHelpText('after', `\nExamples:\n  $ farrier events watch\n  $ farrier events watch --type machines -o json`);
  group
    .command('watch')
    .description('print events (object changes, and DHCP/TFTP/HTTP boot activity) as they happen')
    .option('-t, --type <type>', 'only events of this type, e.g. machines, subnets, dhcp, tftp')
    .option('-n, --count <n>', 'exit after n events', nonNegativeInt('--count'))
    .addHelpText(
      'after',
      `
Output: one line per event: "time type action key" in table output, one JSON object per line with -o json,
YAML documents with -o yaml. Stop with Ctrl-C.

Examples:
  $ farrier events watch
  $ farrier events watch --type machines
  $ farrier events watch -o json --count 1     # wait for the next event`,
    )
    .action(async (opts: { type?: string; count?: number }, cmd: Command) => {
      const ctx = contextFor(cmd, io);
      if (opts.count === 0) return;
      const abort = new AbortController();
      const stop = (): void => abort.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      let seen = 0;
      try {
        for await (const ev of ctx.client.events('events', { type: opts.type }, abort.signal)) {
          ctx.out(renderEvent(ev.data, ctx.format));
          seen++;
          if (opts.count !== undefined && seen >= opts.count) break;
        }
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }
    });
  return group;
}
