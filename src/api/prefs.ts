/** /api/v1/prefs: the prefs map. */
import { type ApiContext, addRoute, bodyObject, patchKind } from './route.js';

export function registerPrefs(ctx: ApiContext): void {
  const p = ctx.services.prefs;
  addRoute(ctx, { method: 'GET', path: '/prefs', handler: () => p.getPrefs() });
  addRoute(ctx, { method: 'PUT', path: '/prefs', handler: (req) => p.set(bodyObject(req)) });
  addRoute(ctx, { method: 'PATCH', path: '/prefs', handler: (req) => p.patch(req.body, patchKind(req.mediaType)) });
}
