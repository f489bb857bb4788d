/** /api/v1/profiles: CRUD and the params sub-resource. */
import { secureParamFilter } from '../auth/secureParams.js';
import { profileListSpec } from '../core/profiles.js';
import { addCollection } from './collection.js';
import { addParamRoutes } from './paramMaps.js';
import type { ApiContext } from './route.js';

export function registerProfiles(ctx: ApiContext): void {
  const p = ctx.services.profiles;
  const secure = secureParamFilter(ctx.services);
  addCollection(ctx, 'profiles', 'name', profileListSpec, p, {
    listView: (items) => secure.listView(items),
    itemView: (item, req) => secure.objectView(item, req.principal),
  });
  addParamRoutes(ctx, 'profiles', {
    get: async (key) => (await p.get(key)).params,
    edit: async (key, op) => (await p.editParams(key, op)).params,
  });
}
