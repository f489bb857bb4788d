/** /api/v1/users (admins only), POST /api/v1/tokens, token revocation and signing-key rotation. */
import { userListSpec } from '../core/users.js';
import { FarrierError } from '../errors.js';
import { addCollection } from './collection.js';
import { type ApiContext, addRoute } from './route.js';

export function registerUsers(ctx: ApiContext): void {
  const u = ctx.services.users;
  addCollection(ctx, 'users', 'name', userListSpec, u);
  addRoute(ctx, { method: 'POST', path: '/users/{name}/revoke-tokens', handler: (req) => u.revokeTokens(req.params.name!) });
  addRoute(ctx, {
    method: 'POST',
    path: '/tokens/rotate-key',
    handler: (req) => ctx.services.tokens.keys.rotate((req.body as { grace?: number } | undefined)?.grace),
  });
  addRoute(ctx, {
    method: 'POST',
    path: '/tokens',
    anyUser: true,
    handler: async (req, reply) => {
      const p = req.principal;
      if (p?.kind !== 'user') throw new FarrierError('FORBIDDEN', 'only users can get API tokens; machines get theirs from the boot templates');
      const user = await u.getRaw(p.name);
      if (!user) throw new FarrierError('UNAUTHORIZED', 'the user no longer exists');
      void reply.code(201);
      return ctx.services.tokens.mintUserToken(user, (req.body as { ttl?: number } | undefined)?.ttl);
    },
  });
}
