/**
 * GET /api/v1/events: Server-Sent Events of every change and boot event (`?type=machines` filters); secure
 * param values in machine and profile objects show as `[secure]` (auth/secureParams.ts).
 * The bus bounds each subscriber's queue; here a client whose socket is not draining (more than
 * MAX_BUFFERED bytes pending) gets events dropped and a `dropped` notice instead of growing memory.
 * POST /api/v1/events publishes an event (machine tokens: only about their own machine).
 */
import type { FarrierEvent } from '../model/types.js';
import { secureParamFilter } from '../auth/secureParams.js';
import { FarrierError } from '../errors.js';
import { type ApiContext, addRoute } from './route.js';

const MAX_BUFFERED = 1024 * 1024;
const KEEPALIVE_MS = 15_000;

export function registerEvents(ctx: ApiContext): void {
  /** Open streams, ended before the server closes (they would otherwise hold close() open forever). */
  const open = new Set<() => void>();
  const secure = secureParamFilter(ctx.services);
  ctx.app.addHook('preClose', async () => {
    for (const end of open) end();
  });
  addRoute(ctx, {
    method: 'GET',
    path: '/events',
    handler: async (req, reply) => {
      const type = typeof req.query.type === 'string' && req.query.type !== '' ? req.query.type : undefined;
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
      res.write(': farrier events\n\n');
      let dropped = 0;
      let awaitingDrain = false;
      const reportDropped = (): void => {
        if (dropped === 0) return;
        res.write(`event: dropped\ndata: ${JSON.stringify({ dropped })}\n\n`);
        dropped = 0;
      };
      const send = (event: string, data: unknown): void => {
        if (res.writableLength > MAX_BUFFERED) {
          dropped++;
          // Tell the client what it missed as soon as it catches up, even if no further event comes.
          if (!awaitingDrain) {
            awaitingDrain = true;
            res.once('drain', () => {
              awaitingDrain = false;
              reportDropped();
            });
          }
          return;
        }
        reportDropped();
        res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      };
      const unsubscribe = ctx.services.bus.subscribe(
        { type },
        (e: FarrierEvent) => send(e.type, secure.event(e)),
        { maxQueue: 1000, onDrop: (n) => { dropped += n; } },
      );
      const keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
      keepalive.unref();
      const stop = (): void => {
        clearInterval(keepalive);
        unsubscribe();
        open.delete(end);
      };
      const end = (): void => {
        stop();
        res.end();
      };
      open.add(end);
      res.on('close', stop);
    },
  });
  addRoute(ctx, {
    method: 'POST',
    path: '/events',
    machine: true,
    handler: async (req, reply) => {
      const body = req.body as Omit<FarrierEvent, 'time'>;
      const p = req.principal;
      if (p?.kind === 'machine' && (body.type !== 'machines' || body.key !== p.uuid)) {
        throw new FarrierError('FORBIDDEN', 'a machine token may only post events of type "machines" about its own machine (key = its uuid)');
      }
      const event: FarrierEvent = { time: new Date().toISOString(), type: body.type, action: body.action, key: body.key };
      if (body.object !== undefined) event.object = body.object;
      ctx.services.bus.publish(event);
      void reply.code(202);
      return event;
    },
  });
}
