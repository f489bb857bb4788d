/**
 * The boot tree over HTTP at `/` (GET and HEAD), unauthenticated like TFTP. Files on disk stream through
 * @fastify/static (Content-Length, Range, ETag, Last-Modified); rendered files are sent as buffers with
 * their exact length. API, Swagger and spec paths are never answered here, even when no route matches them.
 */
import fastifyStatic, { type SendOptions } from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { FarrierError } from '../errors.js';
import type { FarrierEvent } from '../model/types.js';
import { plainIpv4 } from '../boot/address.js';
import type { TreeClient, TreeEntry } from '../boot/tree.js';
import { sendMemoryFile } from './memoryFile.js';

/** What the plugin needs of the boot tree (src/boot/tree.ts's BootTree). */
export interface BootFileTree {
  lookup(path: string, client: TreeClient): Promise<TreeEntry>;
}

export interface BootFilesOptions {
  tree: BootFileTree;
  publish: (event: FarrierEvent) => void;
}

/**
 * Read size for files streamed from disk. Node's 64 KiB default capped a 64 MiB initrd at a third of
 * nginx's speed on one connection (one read and one socket write per 64 KiB); 1 MiB chunks reach it. A
 * stream holds about two chunks, so the chunk shrinks as transfers run concurrently: about 32 MiB of
 * buffers in all, never below the default (a 1,000-machine storm stays at 64 KiB per transfer).
 */
const CHUNK_MAX = 1024 * 1024;
const CHUNK_MIN = 64 * 1024;
const BUFFER_BUDGET = 32 * CHUNK_MAX;
let streaming = 0;
const chunkSize = (): number => Math.max(CHUNK_MIN, Math.min(CHUNK_MAX, Math.floor(BUFFER_BUDGET / 2 / Math.max(1, streaming)) & ~0xffff));

const reserved = /^\/(api(\/|$)|swagger(\/|$)|openapi\.(yaml|json)$)/;

function contentType(name: string): string {
  if (/\.(json|ign)$/.test(name)) return 'application/json';
  if (/\.(cpio|img|gz|xz|efi|kpxe|0|c32|iso)$|vmlinuz|kernel|initrd/.test(name)) return 'application/octet-stream';
  return 'text/plain; charset=utf-8';
}

function clientOf(request: FastifyRequest): TreeClient {
  return { address: request.ip, port: request.socket.remotePort ?? 0, localAddress: request.socket.localAddress };
}

/** Encapsulated (no fastify-plugin): its @fastify/static decorator stays out of the API's context. */
export async function bootFilesPlugin(app: FastifyInstance, opts: BootFilesOptions): Promise<void> {
  await app.register(fastifyStatic, { root: '/', serve: false, dotfiles: 'allow', index: false });

  const handler = async (request: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    let rawPath: string;
    try {
      rawPath = decodeURIComponent(request.url.split('?')[0]);
    } catch {
      return reply.code(400).type('text/plain; charset=utf-8').send('malformed percent-encoding in path\n');
    }
    if (reserved.test(rawPath)) return reply.callNotFound();
    const client = clientOf(request);
    let entry: TreeEntry;
    try {
      entry = await opts.tree.lookup(rawPath, client);
    } catch (err) {
      if (err instanceof FarrierError && err.code === 'RENDER') {
        request.log.warn({ path: rawPath, uuid: err.detail?.machine, client: client.address }, err.message);
        event(opts, request, rawPath, 500, 0);
        return reply.code(500).type('text/plain; charset=utf-8').send(`${err.message}\n`);
      }
      throw err;
    }
    if (entry.kind === 'missing') {
      event(opts, request, rawPath, 404, 0);
      return reply.code(404).type('text/plain; charset=utf-8').send(`${entry.reason}\n`);
    }
    if (entry.kind === 'buffer') {
      event(opts, request, rawPath, 200, request.method === 'HEAD' ? 0 : entry.data.length, entry.machine);
      return reply
        .code(200)
        .type(contentType(entry.name))
        .header('content-length', entry.data.length)
        .header('cache-control', 'no-store')
        .send(entry.data);
    }
    if (entry.data) {
      const data = entry.data;
      reply.raw.once('finish', () => {
        const length = Number(reply.getHeader('content-length') ?? 0);
        event(opts, request, rawPath, reply.statusCode, request.method === 'HEAD' ? 0 : length, entry.machine, Math.round(reply.elapsedTime));
      });
      return sendMemoryFile(request, reply, { data, mtime: entry.mtime ?? new Date(0), contentType: contentType(entry.name) });
    }
    streaming += 1;
    // 'close' also comes for a client that went away mid-transfer, when 'finish' never does.
    reply.raw.once('close', () => (streaming -= 1));
    reply.raw.once('finish', () => {
      const length = Number(reply.getHeader('content-length') ?? 0);
      event(opts, request, rawPath, reply.statusCode, request.method === 'HEAD' ? 0 : length, entry.machine, Math.round(reply.elapsedTime));
    });
    const slash = entry.path.lastIndexOf('/');
    // send() takes highWaterMark for its read stream; @fastify/static's types do not list it.
    // Content-Type is ours, as for files served from memory, so a file's type does not depend on its size.
    const sendOptions: SendOptions & { highWaterMark: number } = { highWaterMark: chunkSize(), contentType: false };
    reply.type(contentType(entry.name));
    return reply.sendFile(entry.path.slice(slash + 1), entry.path.slice(0, slash) || '/', sendOptions);
  };

  // Each boot-file request is an `http` event (the boot timeline, SSE, metrics), so Fastify's two info
  // lines per request are left out here: at storm rates they cost more than rendering the file.
  app.route({ method: ['GET', 'HEAD'], url: '/*', logLevel: 'warn', handler });
}

function event(opts: BootFilesOptions, request: FastifyRequest, path: string, status: number, bytes: number, machine?: { uuid: string; mac: string }, durationMs?: number): void {
  const client = plainIpv4(request.ip);
  opts.publish({
    time: new Date().toISOString(),
    type: 'http',
    action: request.method.toLowerCase(),
    key: machine?.uuid ?? client,
    object: { path, status, bytes, client, mac: machine?.mac ?? null, uuid: machine?.uuid ?? null, ...(durationMs !== undefined ? { durationMs } : {}) },
  });
}
