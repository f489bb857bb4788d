/** /api/v1/machines: CRUD, params (incl. aggregate), bootenv assignment, machine tokens. */
import { secureParamFilter } from '../auth/secureParams.js';
import { machineListSpec } from '../core/machines.js';
import { FarrierError } from '../errors.js';
import { addCollection } from './collection.js';
import { addParamRoutes } from './paramMaps.js';
import { type ApiContext, addRoute } from './route.js';

export function registerMachines(ctx: ApiContext): void {
  const m = ctx.services.machines;
  const secure = secureParamFilter(ctx.services);
  addCollection(ctx, 'machines', 'key', machineListSpec, m, {
    machineGet: true,
    listView: (items) => secure.listView(items),
    itemView: (item, req) => secure.objectView(item, req.principal),
  });
  addParamRoutes(ctx, 'machines', {
    get: async (key) => (await m.get(key)).params,
    aggregate: async (key) => ctx.services.params.aggregate(await m.get(key)),
    edit: async (key, op) => (await m.editParams(key, op)).params,
  });
  addRoute(ctx, {
    method: 'POST',
    path: '/machines/{key}/bootenv',
    machine: true,
    handler: async (req) => {
      const bootenv = (req.body as { bootenv?: unknown }).bootenv;
      if (typeof bootenv !== 'string') throw new FarrierError('VALIDATION', 'bootenv is required', [{ field: '/bootenv', message: 'is required' }]);
      return m.setBootEnv(req.params.key!, bootenv);
    },
  });
  addRoute(ctx, {
    method: 'POST',
    path: '/machines/{key}/token',
    handler: async (req, reply) => {
      const machine = await m.resolveRaw(req.params.key!);
      const ttl = (req.body as { ttl?: number } | undefined)?.ttl;
      void reply.code(201);
      return ctx.services.tokens.mintMachineToken(machine, ttl);
    },
  });
  addRoute(ctx, { method: 'POST', path: '/machines/{key}/rotate-token-secret', handler: (req) => m.rotateTokenSecret(req.params.key!) });
}
