/**
 * GET /api/v1/machines/{key}/render?path=…: the file a machine would receive at `path`, rendered now by the
 * boot layer (the same code that serves TFTP and HTTP). A template failure answers 422 with the render error
 * (machine, bootenv, template, line, missing param) in `message` and `detail`.
 * Rendered files hold the machine's secure params and a fresh machine token, so read-only users may not
 * render: that would hand them a credential that can change the machine.
 */
import { FarrierError } from '../errors.js';
import type { ErrorEnvelope } from './errors.js';
import { type ApiContext, addRoute } from './route.js';

/** One entry the boot layer answers with (src/boot/tree.ts TreeEntry, the kinds the API needs). */
export type RenderedEntry =
  | { kind: 'buffer'; data: Buffer; name: string }
  | { kind: 'file'; path: string; size: number; name: string }
  | { kind: 'missing'; reason: string };

/** What the API needs of the boot layer; absent when the daemon runs without one. */
export interface MachineRenderer {
  /** The provisioner URL a client at `address` reaching us on `localAddress` is given. */
  provisionerUrl(client: { address: string; port: number; localAddress?: string }): string;
  renderForMachine(uuid: string, path: string, provisionerUrl: string): Promise<RenderedEntry>;
}

export function registerRender(ctx: ApiContext, renderer: MachineRenderer | undefined): void {
  addRoute(ctx, {
    method: 'GET',
    path: '/machines/{key}/render',
    handler: async (req, reply) => {
      const p = req.principal;
      if (p?.kind === 'user' && p.role === 'readonly') {
        throw new FarrierError('FORBIDDEN', 'rendered files carry secure params and a machine token; role readonly may not render them');
      }
      const machine = await ctx.services.machines.resolveRaw(req.params.key!);
      if (!renderer) throw new FarrierError('UNAVAILABLE', 'the boot layer is not running in this process; nothing can be rendered');
      const path = String(req.query.path);
      const url = renderer.provisionerUrl({ address: req.raw.ip, port: req.raw.socket.remotePort ?? 0, localAddress: req.raw.socket.localAddress });
      let entry: RenderedEntry;
      try {
        entry = await renderer.renderForMachine(machine.uuid, path, url);
      } catch (err) {
        if (!(err instanceof FarrierError) || err.code !== 'RENDER') throw err;
        const body: ErrorEnvelope = { code: 'RENDER', message: err.message, fieldErrors: [], detail: err.detail };
        return reply.code(422).send(body);
      }
      if (entry.kind === 'missing') throw new FarrierError('NOT_FOUND', `machine ${machine.name}: nothing at ${path}: ${entry.reason}`);
      if (entry.kind === 'file') throw new FarrierError('BAD_REQUEST', `machine ${machine.name}: ${path} is a static file (${entry.path}, ${entry.size} bytes), not rendered; fetch it from the boot tree`);
      return reply.code(200).type('text/plain; charset=utf-8').header('cache-control', 'no-store').send(entry.data);
    },
  });
}
