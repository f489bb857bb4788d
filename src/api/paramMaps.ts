/**
 * The params sub-resource of machines and profiles: the whole map, one param, and (machines) the aggregate
 * view. Read-only users get secure values as `[secure]` (auth/secureParams.ts).
 */
import { secureParamFilter } from '../auth/secureParams.js';
import type { editParams } from '../core/params.js';
import { notFound } from '../errors.js';
import { type ApiContext, addRoute, patchKind } from './route.js';

type EditOp = Parameters<typeof editParams>[1];

export interface ParamHolder {
  get(key: string): Promise<Record<string, unknown>>;
  aggregate?(key: string): Promise<unknown>;
  edit(key: string, op: EditOp): Promise<Record<string, unknown>>;
}

export function addParamRoutes(ctx: ApiContext, coll: 'machines' | 'profiles', h: ParamHolder): void {
  const machine = coll === 'machines';
  const secure = secureParamFilter(ctx.services);
  addRoute(ctx, {
    method: 'GET',
    path: `/${coll}/{key}/params`,
    machine,
    handler: async (req) =>
      req.query.aggregate === true && h.aggregate
        ? secure.aggregateView(await h.aggregate(req.params.key!), req.principal)
        : secure.mapView(await h.get(req.params.key!), req.principal),
  });
  addRoute(ctx, { method: 'PUT', path: `/${coll}/{key}/params`, machine, handler: (req) => h.edit(req.params.key!, { kind: 'replace', values: req.body }) });
  addRoute(ctx, {
    method: 'PATCH',
    path: `/${coll}/{key}/params`,
    machine,
    handler: (req) => h.edit(req.params.key!, { kind: 'patch', body: req.body, patch: patchKind(req.mediaType) }),
  });
  addRoute(ctx, {
    method: 'GET',
    path: `/${coll}/{key}/params/{name}`,
    machine,
    handler: async (req) => {
      const params = await h.get(req.params.key!);
      const name = req.params.name!;
      if (!Object.hasOwn(params, name)) throw notFound('param value', name);
      return secure.valueView(name, params[name], req.principal);
    },
  });
  addRoute(ctx, {
    method: 'PUT',
    path: `/${coll}/{key}/params/{name}`,
    machine,
    handler: async (req) => (await h.edit(req.params.key!, { kind: 'set', name: req.params.name!, value: req.body }))[req.params.name!],
  });
  addRoute(ctx, {
    method: 'DELETE',
    path: `/${coll}/{key}/params/{name}`,
    handler: async (req) => {
      const before = (await h.get(req.params.key!))[req.params.name!];
      await h.edit(req.params.key!, { kind: 'delete', name: req.params.name! });
      return before;
    },
  });
}
