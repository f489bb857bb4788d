/**
 * `farrier tokens create [--ttl]`: trades the user's password for a bearer token (POST /api/v1/tokens).
 * `farrier tokens rotate-key [--grace]`: a new token signing key (POST /api/v1/tokens/rotate-key, admins).
 */
import { Command } from 'commander';
import { contextFor, type Io } from '../context.js';
import { renderObject } from '../output.js';
import { nonNegativeInt } from './crud.js';

export function tokensCommand(io: Io): Command {
  const group = new Command('tokens').description('create API tokens, rotate the signing key').usage('create|rotate-key [options]');
  group.addHelpText('after', `\nExamples:\n  $ farrier -U admin -P "$PW" tokens create --ttl 600\n  $ farrier -U admin -P "$PW" tokens rotate-key --grace 3600`);
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
  group
    .command('rotate-key')
    .description('write a new token signing key; tokens signed with the old one stay valid for the grace period (admins)')
    .option('--grace <seconds>', "seconds the old key stays valid (default: the daemon's --token-key-grace, 3600; 0 revokes every token now)", nonNegativeInt('--grace'))
    .addHelpText(
      'after',
      `
The daemon keeps the key in <data-dir>/token.key (mode 0600). User tokens and the machine tokens in
rendered files that were signed with the old key keep working until the grace period ends, so machines
in the middle of an install still reach their callbacks; after that only new tokens are accepted.

Examples:
  $ farrier -U admin -P "$PW" tokens rotate-key
  $ farrier -U admin -P "$PW" tokens rotate-key --grace 0     # revoke every token at once`,
    )
    .action(async (opts: { grace?: number }, cmd: Command) => {
      const ctx = contextFor(cmd, io);
      const body = opts.grace === undefined ? {} : { grace: opts.grace };
      const res = await ctx.client.request('POST', 'tokens/rotate-key', { body });
      ctx.out(renderObject(res.body, ctx.format));
    });
  return group;
}
