/**
 * `farrier info`: the daemon's version and the state of its services (GET /api/v1/info, no auth needed).
 */
import { Command } from 'commander';
import { contextFor, type Io } from '../context.js';
import { cell, renderObject, renderTable } from '../output.js';

interface ServiceState {
  enabled?: boolean;
  port?: number;
  error?: string;
}

export function infoCommand(io: Io): Command {
  return new Command('info')
    .description("show the daemon's version, addresses and whether DHCP, TFTP and HTTP are serving")
    .addHelpText(
      'after',
      `
Needs no credentials, so it is a quick check that the endpoint is right.

Examples:
  $ farrier info
  $ farrier -E http://10.0.0.5:8091 info -o json`,
    )
    .action(async (_opts: unknown, cmd: Command) => {
      const ctx = contextFor(cmd, io);
      const res = await ctx.client.get<Record<string, unknown>>('info');
      const info = res.body;
      if (ctx.format !== 'table' || !info || typeof info !== 'object') {
        ctx.out(renderObject(info, ctx.format));
        return;
      }
      const { services, ...rest } = info;
      ctx.out(renderObject(rest, 'table'));
      if (services && typeof services === 'object') {
        const rows = Object.entries(services as Record<string, ServiceState>).map(([name, s]) => [
          name,
          cell(s.enabled),
          cell(s.port),
          s.error ? s.error : s.enabled === false ? 'disabled' : 'serving',
        ]);
        ctx.out('\n' + renderTable(['service', 'enabled', 'port', 'status'], rows));
      }
    });
}
