/**
 * `farrier tokens create [--ttl]`: trades the user's password for a bearer token (POST /api/v1/tokens).
 */
import { Command } from 'commander';
import { contextFor, type Io } from '../context.js';
import { renderObject } from '../output.js';
import { nonNegativeInt } from './crud.js';

export function tokensCommand(io: Io): Command {
  const group = new Command('tokens').description('create API tokens').usage('create [options]')
  group.addHelpText('after', `\nExamples:\n  $ farrier -U admin -P "$PW" tokens create --ttl 600`);
  group
    .command('create')
    .description('create a bearer token for the current user (needs -U/-P); prints {token, expiresAt}')
    .option('--ttl <seconds>', 'token lifetime in seconds (default: the daemon\'s --token-ttl)', nonNegativeInt('--ttl'))
    .addHelpText(
      'after',
      `
In table output only the token itself is printed, so it can be captured directly.

Examples:
  $ farrier -U admin -P "$PW" tokens create --ttl 600
  $ export FARRIER_TOKEN=$(farrier -U admin -P "$PW" tokens create -o table)
  $ farrier machines list        # now authenticated with the token`,
    )
    .action(async (opts: { ttl?: number }, cmd: Command) => {
      const ctx = contextFor(cmd, io);
      const body = opts.ttl === undefined ? {} : { ttl: opts.ttl };
      const res = await ctx.client.request<{ token?: string }>('POST', 'tokens', { body });
      if (ctx.format === 'table' && typeof res.body?.token === 'string') ctx.out(res.body.token + '\n');
      else ctx.out(renderObject(res.body, ctx.format));
    });
  return group;
}
