/**
 * Files and ISOs in the boot root (`<dataDir>/files`), uploaded as raw `application/octet-stream` bodies that
 * are streamed to disk, never buffered:
 * - `/api/v1/files/{path}` ↔ `<boot root>/files/{path}`, served by the boot tree (HTTP and TFTP) at `files/{path}`;
 * - `/api/v1/isos/{name}` ↔ `<boot root>/isos/{name}`, exploded into `<os.name>/` for the bootenvs naming it.
 * Without a boot root (an app built without one) these routes answer 503.
 */
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { FileDir } from '../core/files.js';
import { IsoStore } from '../core/isos.js';
import { FarrierError } from '../errors.js';
import { type ApiContext, type ApiRequest, addRoute } from './route.js';

const OCTET = 'application/octet-stream';

export interface FilesOptions {
  /** `<dataDir>/files`, the root the boot tree serves. */
  bootRoot: string;
  /** bsdtar binary (tests point it elsewhere to see the "not installed" answer). */
  bsdtar?: string;
}

function bodyStream(req: ApiRequest): Readable {
  if (req.mediaType !== OCTET) throw new FarrierError('UNSUPPORTED_MEDIA_TYPE', `send the file as ${OCTET}`);
  return req.body as Readable;
}

export function registerFiles(ctx: ApiContext, opts: FilesOptions | undefined, logger: Logger): void {
  // The body stays an unread stream: the handler pipes it to disk (bodyLimit does not apply to it).
  ctx.app.addContentTypeParser(OCTET, (_req, payload, done) => done(null, payload));
  const files = opts ? new FileDir(join(opts.bootRoot, 'files')) : undefined;
  const isos = opts ? new IsoStore(opts.bootRoot, ctx.services.bootenvs, logger, { bsdtar: opts.bsdtar }) : undefined;
  const need = <T>(x: T | undefined): T => {
    if (x === undefined) throw new FarrierError('UNAVAILABLE', 'no boot root is configured in this process; files and ISOs cannot be stored');
    return x;
  };

  addRoute(ctx, {
    method: 'GET',
    path: '/files',
    handler: async (req) => need(files).list(typeof req.query.path === 'string' ? req.query.path.replace(/^\/+|\/+$/g, '') : ''),
  });
  addRoute(ctx, {
    method: 'PUT',
    path: '/files/{path}',
    handler: async (req, reply) => {
      const stored = await need(files).put(req.params.path!, bodyStream(req));
      return reply.code(201).send({ ...stored, treePath: `files/${stored.path}` });
    },
  });
  addRoute(ctx, {
    method: 'GET',
    path: '/files/{path}',
    handler: async (req, reply) => {
      const f = await need(files).get(req.params.path!);
      return reply.type(OCTET).header('content-length', f.size).header('last-modified', f.mtime.toUTCString()).send(createReadStream(f.abs));
    },
  });
  addRoute(ctx, {
    method: 'DELETE',
    path: '/files/{path}',
    handler: async (req) => need(files).delete(req.params.path!),
  });

  addRoute(ctx, {
    method: 'GET',
    path: '/isos',
    handler: async () => need(isos).list(),
  });
  addRoute(ctx, {
    method: 'POST',
    path: '/isos/{name}',
    handler: async (req, reply) => reply.code(201).send(await need(isos).upload(req.params.name!, bodyStream(req))),
  });
  addRoute(ctx, {
    method: 'DELETE',
    path: '/isos/{name}',
    handler: async (req) => need(isos).delete(req.params.name!),
  });
}
