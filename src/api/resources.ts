/** The collections without extra routes: bootenvs, templates, params, subnets, reservations, leases. */
import { bootEnvListSpec } from '../core/bootenvs.js';
import { leaseListSpec } from '../core/leases.js';
import { parseListQuery } from '../core/list.js';
import { paramListSpec } from '../core/params.js';
import { reservationListSpec, subnetListSpec } from '../core/subnets.js';
import { templateListSpec } from '../core/templates.js';
import { addCollection } from './collection.js';
import { type ApiContext, addRoute } from './route.js';

export function registerSimpleCollections(ctx: ApiContext): void {
  const s = ctx.services;
  addCollection(ctx, 'bootenvs', 'name', bootEnvListSpec, s.bootenvs);
  addCollection(ctx, 'templates', 'id', templateListSpec, {
    list: (q) => s.templates.list(q),
    get: (id) => s.templates.get(id),
    create: (b) => s.templates.create(b),
    replace: (id, b) => s.templates.replace(id, b),
    patch: (id, b, k) => s.templates.patch(id, b, k),
    delete: (id) => s.templates.delete(id, (tid) => s.bootenvs.templateUsers(tid)),
  });
  addCollection(ctx, 'params', 'name', paramListSpec, s.params);
  addCollection(ctx, 'subnets', 'name', subnetListSpec, s.subnets);
  addCollection(ctx, 'reservations', 'address', reservationListSpec, s.reservations);
  addRoute(ctx, {
    method: 'GET',
    path: '/leases',
    handler: async (req, reply) => {
      const res = await s.leases.list(parseListQuery(leaseListSpec, req.query));
      void reply.header('X-Total-Count', String(res.total));
      return res.items;
    },
  });
  addRoute(ctx, { method: 'GET', path: '/leases/{address}', handler: (req) => s.leases.get(req.params.address!) });
  addRoute(ctx, { method: 'DELETE', path: '/leases/{address}', handler: (req) => s.leases.delete(req.params.address!) });
}
