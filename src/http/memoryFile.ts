/**
 * HTTP semantics for a boot file held in memory (src/boot/fileContents.ts), the same ones @fastify/send gives
 * a file streamed from disk, so a client cannot tell which way a file came: the same weak ETag (size and
 * mtime in hex), Last-Modified, `If-Match`/`If-Unmodified-Since` (412), `If-None-Match`/`If-Modified-Since`
 * (304), a single byte `Range` honoured under `If-Range` (206, or 416 when unsatisfiable), HEAD. Several
 * ranges at once get the whole file, as from @fastify/send.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';

export interface MemoryFile {
  data: Buffer;
  mtime: Date;
  contentType: string;
}

const matchesEtag = (header: string, etag: string): boolean =>
  header.trim() === '*' || header.split(',').some((t) => {
    const tag = t.trim();
    return tag === etag || `W/${tag}` === etag || tag === etag.slice(2);
  });

/** Seconds-resolution comparison, as HTTP dates carry no milliseconds. */
const notAfter = (mtime: Date, header: string): boolean => {
  const when = Date.parse(header);
  return !Number.isNaN(when) && Math.floor(mtime.getTime() / 1000) * 1000 <= when;
};

/** The one range asked for, or 'all' (no usable Range header), or 'unsatisfiable'. */
function parseRange(header: string | undefined, size: number): { start: number; end: number } | 'all' | 'unsatisfiable' {
  if (!header) return 'all';
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return header.includes(',') || !header.startsWith('bytes=') ? 'all' : 'unsatisfiable';
  let start: number;
  let end: number;
  if (m[1] === '') {
    start = Math.max(0, size - Number(m[2]));
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start >= size || start > end || (m[1] === '' && Number(m[2]) === 0)) return 'unsatisfiable';
  return { start, end };
}

export function sendMemoryFile(request: FastifyRequest, reply: FastifyReply, file: MemoryFile): FastifyReply {
  const size = file.data.length;
  const etag = `W/"${size.toString(16)}-${file.mtime.getTime().toString(16)}"`;
  reply
    .header('accept-ranges', 'bytes')
    .header('cache-control', 'public, max-age=0')
    .header('last-modified', file.mtime.toUTCString())
    .header('etag', etag)
    .type(file.contentType);
  const h = request.headers;
  if ((h['if-match'] && !matchesEtag(h['if-match'], etag)) || (h['if-unmodified-since'] && !notAfter(file.mtime, h['if-unmodified-since']))) {
    return reply.code(412).header('content-length', 0).send();
  }
  const fresh = h['if-none-match'] !== undefined ? matchesEtag(h['if-none-match'], etag) : h['if-modified-since'] !== undefined && notAfter(file.mtime, h['if-modified-since']);
  if (fresh) return reply.code(304).send();
  const ifRange = [h['if-range']].flat()[0];
  const rangeFresh = ifRange === undefined || (ifRange.includes('"') ? ifRange.includes(etag) : notAfter(file.mtime, ifRange));
  const range = rangeFresh ? parseRange(h.range, size) : 'all';
  if (range === 'unsatisfiable') {
    return reply.code(416).header('content-range', `bytes */${size}`).header('content-length', 0).send();
  }
  const body = range === 'all' ? file.data : file.data.subarray(range.start, range.end + 1);
  if (range !== 'all') reply.code(206).header('content-range', `bytes ${range.start}-${range.end}/${size}`);
  else reply.code(200);
  reply.header('content-length', body.length);
  // Node's HTTP server leaves the body out of a HEAD response itself, keeping Content-Length
  return reply.send(body);
}
