/** The five routes every collection shares: list (filters, paging, X-Total-Count), get, create, put, patch, delete. */
import { parseListQuery, type ListSpec } from '../core/list.js';
import type { ListQuery, ListResult } from '../store/store.js';
import { type ApiContext, type ApiRequest, bodyObject, patchKind, addRoute } from './route.js';

export interface CrudService<T> {
  list(q: ListQuery): Promise<ListResult<T>>;
  get(key: string): Promise<T>;
  create(body: Record<string, unknown>): Promise<T>;
  replace(key: string, body: Record<string, unknown>): Promise<T>;
  patch(key: string, body: unknown, kind: 'merge' | 'json' | 'auto'): Promise<T>;
  delete(key: string): Promise<T>;
}

export function addCollection<T>(ctx: ApiContext, coll: string, keyParam: string, listSpec: ListSpec, svc: CrudService<T>, opts: { machineGet?: boolean; listView?: (items: T[]) => Promise<T[]>; itemView?: (item: T, req: ApiRequest) => Promise<T> } = {}): void {
  const item = `/${coll}/{${keyParam}}`;
  addRoute(ctx, {
    method: 'GET',
    path: `/${coll}`,
    handler: async (req, reply) => {
      const res = await svc.list(parseListQuery(listSpec, req.query));
      void reply.header('X-Total-Count', String(res.total));
      return opts.listView ? opts.listView(res.items) : res.items;
    },
  });
  addRoute(ctx, {
    method: 'POST',
    path: `/${coll}`,
    handler: async (req, reply) => {
      const created = await svc.create(bodyObject(req));
      void reply.code(201);
      return created;
    },
  });
  addRoute(ctx, {
    method: 'GET',
    path: item,
    machine: opts.machineGet,
    handler: async (req) => {
      const found = await svc.get(req.params[keyParam]!);
      return opts.itemView ? opts.itemView(found, req) : found;
    },
  });
  addRoute(ctx, { method: 'PUT', path: item, handler: (req) => svc.replace(req.params[keyParam]!, bodyObject(req)) });
  addRoute(ctx, { method: 'PATCH', path: item, handler: (req) => svc.patch(req.params[keyParam]!, req.body, patchKind(req.mediaType)) });
  addRoute(ctx, { method: 'DELETE', path: item, handler: (req) => svc.delete(req.params[keyParam]!) });
}
