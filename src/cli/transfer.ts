/**
 * Streaming uploads and downloads for the CLI (files, ISOs, `bootenvs fetch-iso`) with progress on stderr:
 * a cli-progress bar on a terminal, plain progress lines otherwise (logs, CI). Bytes are never buffered whole.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, stat, unlink } from 'node:fs/promises';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Presets, SingleBar } from 'cli-progress';
import type { Context, Io } from './context.js';
import { UsageError } from './failures.js';

export const OCTET = 'application/octet-stream';

export interface Progress {
  add(bytes: number): void;
  finish(): void;
}

const MiB = 1024 * 1024;
const human = (n: number): string => (n >= MiB ? `${(n / MiB).toFixed(1)} MiB` : `${n} bytes`);

/** Progress for `label`; `total` undefined when the size is not known in advance. */
export function startProgress(io: Io, label: string, total: number | undefined): Progress {
  let done = 0;
  if ((io.stderr as { isTTY?: boolean }).isTTY === true) {
    const bar = new SingleBar(
      { format: `${label} [{bar}] {percentage}% | {value}/{total} bytes | {eta_formatted}`, stream: io.stderr as NodeJS.WritableStream & { isTTY: boolean }, hideCursor: true },
      Presets.shades_classic,
    );
    bar.start(total ?? 0, 0);
    return {
      add: (n) => {
        done += n;
        if (total === undefined) bar.setTotal(done);
        bar.update(done);
      },
      finish: () => bar.stop(),
    };
  }
  // Plain lines: one per 10% (per 16 MiB when the size is unknown) and one at the end.
  const step = total ? Math.max(Math.ceil(total / 10), 1) : 16 * MiB;
  let next = step;
  const line = (): string => (total ? `${label}: ${Math.floor((done / total) * 100)}% (${human(done)} of ${human(total)})\n` : `${label}: ${human(done)}\n`);
  return {
    add: (n) => {
      done += n;
      if (done >= next && (!total || done < total)) {
        io.stderr.write(line());
        while (next <= done) next += step;
      }
    },
    finish: () => void io.stderr.write(`${label}: done, ${human(done)}\n`),
  };
}

/** A web stream of `src`'s bytes that reports each chunk to `progress` as fetch reads it. */
export function counted(src: Readable, progress: Progress): ReadableStream<Uint8Array> {
  const it = src[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { value, done } = (await it.next()) as IteratorResult<Buffer>;
      if (done) return controller.close();
      progress.add(value.length);
      controller.enqueue(new Uint8Array(value.buffer, value.byteOffset, value.length));
    },
    async cancel() {
      src.destroy();
    },
  });
}

/** Sends a local file as the octet-stream body of `method apiPath`; returns the JSON answer. */
export async function uploadFile(ctx: Context, io: Io, method: string, apiPath: string, local: string, label: string): Promise<unknown> {
  const st = await stat(local).catch(() => undefined);
  if (!st?.isFile()) throw new UsageError(`${local}: no such file`);
  const progress = startProgress(io, label, st.size);
  try {
    const res = await ctx.client.stream(method, apiPath, { body: counted(createReadStream(local), progress), contentType: OCTET });
    return await res.json();
  } finally {
    progress.finish();
  }
}

/** Writes a response body to `out` (a path, written to a temp name then renamed, or `-` for stdout). */
export async function saveBody(res: Response, io: Io, out: string, label: string): Promise<number> {
  const length = Number(res.headers.get('content-length'));
  const progress = startProgress(io, label, Number.isFinite(length) && length > 0 ? length : undefined);
  let bytes = 0;
  const body = res.body ? Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>) : Readable.from([]);
  body.on('data', (c: Buffer) => {
    bytes += c.length;
    progress.add(c.length);
  });
  try {
    if (out === '-') {
      await pipeline(body, new Writable({ write: (chunk, _enc, cb) => void io.stdout.write(chunk, cb) }));
    } else {
      const tmp = `${out}.part`;
      try {
        await pipeline(body, createWriteStream(tmp));
        await rename(tmp, out);
      } catch (err) {
        await unlink(tmp).catch(() => undefined);
        throw err;
      }
    }
  } finally {
    progress.finish();
  }
  return bytes;
}
