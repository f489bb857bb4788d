/** GET /api/v1/machines/{key}/timeline: the machine's stored boot timeline (a machine token reads its own). */
import { TIMELINE_KEEP } from '../timeline/recorder.js';
import { type ApiContext, addRoute } from './route.js';

export function registerTimeline(ctx: ApiContext): void {
  addRoute(ctx, {
    method: 'GET',
    path: '/machines/{key}/timeline',
    machine: true,
    handler: async (req) => {
      const m = await ctx.services.machines.resolveRaw(req.params.key!);
      const limit = typeof req.query.limit === 'number' ? req.query.limit : TIMELINE_KEEP;
      return ctx.services.store.timeline(m.uuid, limit);
    },
  });
}
