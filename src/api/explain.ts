/**
 * GET /api/v1/machines/{key}/explain?arch=&ipxe=: the dry run of a machine's network boot (src/explain).
 * `key` may be `mac:<mac>` of a machine Farrier does not know: the report then shows what an unknown machine
 * gets. Like /render, the report holds rendered files (secure params, a machine token): not for read-only users.
 */
import { FarrierError } from '../errors.js';
import { type ExplainArch, type ExplainTree, explainBoot } from '../explain/explain.js';
import { type ApiContext, addRoute } from './route.js';

export function registerExplain(ctx: ApiContext, tree: ExplainTree | undefined): void {
  addRoute(ctx, {
    method: 'GET',
    path: '/machines/{key}/explain',
    handler: async (req) => {
      const p = req.principal;
      if (p?.kind === 'user' && p.role === 'readonly') {
        throw new FarrierError('FORBIDDEN', 'the report carries rendered files with secure params and a machine token; role readonly may not read it');
      }
      if (!tree) throw new FarrierError('UNAVAILABLE', 'the boot layer is not running in this process; nothing can be explained');
      const arch = (typeof req.query.arch === 'string' ? req.query.arch : 'bios') as ExplainArch;
      const ipxe = req.query.ipxe === true || req.query.ipxe === 'true';
      return explainBoot(ctx.services, tree, { key: req.params.key!, arch, ipxe, localAddress: req.raw.socket.localAddress });
    },
  });
}
