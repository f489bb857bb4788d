/**
 * `farrier isos upload|list|delete` (POST/GET/DELETE /api/v1/isos) and `farrier bootenvs fetch-iso <name>`,
 * which downloads a bootenv's `os.isoUrl` and uploads it as its `os.isoFile`, streaming the download
 * into the upload so the ISO never lands on the CLI's disk.
 */
import { basename } from 'node:path';
import { Readable } from 'node:stream';
import { Command } from 'commander';
import { segment } from '../client.js';
import { contextFor, type Io } from '../context.js';
import { ApiError, ConnectionError, UsageError } from '../failures.js';
import { renderList, renderObject } from '../output.js';
import { OCTET, counted, startProgress, uploadFile } from '../transfer.js';

export function isosCommand(io: Io): Command {
  const group = new Command('isos').description('upload, list and delete ISO images (exploded into <os.name>/ for the bootenvs naming them)');
  group.addHelpText(
    'after',
    `
An uploaded ISO is checked against the os.isoSha256 of every bootenv whose os.isoFile names it, then
extracted into <os.name>/ of the boot tree; those bootenvs become available once their kernel and
initrds exist.

Examples:
  $ farrier isos upload ./ubuntu-24.04-live-server-amd64.iso
  $ farrier isos upload ./download.iso --name ubuntu-24.04-live-server-amd64.iso
  $ farrier isos list
  $ farrier isos delete ubuntu-24.04-live-server-amd64.iso`,
  );
  group
    .command('upload')
    .description('upload an ISO (streamed) and explode it for the bootenvs that name it')
    .argument('<file>', 'local ISO file')
    .option('--name <name>', 'name to store it under (default: the file\'s base name), as bootenvs name it in os.isoFile')
    .addHelpText('after', `\nExamples:\n  $ farrier isos upload ./ubuntu-24.04-live-server-amd64.iso\n  $ farrier isos upload ./download.iso --name ubuntu-24.04-live-server-amd64.iso`)
    .action(async (file: string, opts: { name?: string }, cmd: Command) => {
      const ctx = contextFor(cmd, io);
      const name = opts.name ?? basename(file);
      ctx.out(renderObject(await uploadFile(ctx, io, 'POST', `isos/${segment(name)}`, file, `upload ${name}`), ctx.format));
    });
  group
    .command('list')
    .description('list uploaded ISOs and the bootenvs that use them')
    .addHelpText('after', `\nExamples:\n  $ farrier isos list`)
    .action(async (_opts: unknown, cmd: Command) => {
      const ctx = contextFor(cmd, io);
      const res = await ctx.client.get<unknown[]>('isos');
      ctx.out(
        renderList(res.body, ctx.format, [
          { header: 'name', value: (r) => r.name },
          { header: 'size', value: (r) => r.size },
          { header: 'bootenvs', value: (r) => r.bootenvs },
          { header: 'mtime', value: (r) => r.mtime },
        ]),
      );
    });
  group
    .command('delete')
    .description('delete an uploaded ISO (what it exploded into stays in the boot tree)')
    .argument('<name>', 'ISO name')
    .addHelpText('after', `\nExamples:\n  $ farrier isos delete ubuntu-24.04-live-server-amd64.iso`)
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      const ctx = contextFor(cmd, io);
      ctx.out(renderObject((await ctx.client.request('DELETE', `isos/${segment(name)}`)).body, ctx.format));
    });
  return group;
}

/** `bootenvs fetch-iso <name>` on the bootenvs command group. */
export function addFetchIsoCommand(group: Command, io: Io): void {
  group
    .command('fetch-iso')
    .description("download the bootenv's os.isoUrl and upload it as its os.isoFile (checked against os.isoSha256, then exploded)")
    .argument('<name>', 'bootenv name')
    .addHelpText('after', `\nExamples:\n  $ farrier bootenvs fetch-iso ubuntu-24.04`)
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      const ctx = contextFor(cmd, io);
      const env = (await ctx.client.get<{ os?: { isoUrl?: string; isoFile?: string } }>(`bootenvs/${segment(name)}`)).body;
      const url = env.os?.isoUrl;
      if (!url) throw new UsageError(`bootenv ${name} has no os.isoUrl to fetch`);
      const isoFile = env.os?.isoFile || basename(new URL(url).pathname);
      if (!isoFile) throw new UsageError(`bootenv ${name} has no os.isoFile and ${url} names no file`);
      let res: Response;
      try {
        res = await fetch(url);
      } catch (err) {
        const cause = (err as Error).cause;
        throw new ConnectionError(`cannot download ${url}: ${cause instanceof Error ? cause.message : (err as Error).message}`);
      }
      if (!res.ok || !res.body) throw new ApiError(res.status, 'FETCH', `cannot download ${url}: HTTP ${res.status} ${res.statusText}`, []);
      const length = Number(res.headers.get('content-length'));
      const progress = startProgress(io, `fetch ${isoFile}`, Number.isFinite(length) && length > 0 ? length : undefined);
      let uploaded: unknown;
      try {
        const body = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>);
        uploaded = await (await ctx.client.stream('POST', `isos/${segment(isoFile)}`, { body: counted(body, progress), contentType: OCTET })).json();
      } finally {
        progress.finish();
      }
      ctx.out(renderObject(uploaded, ctx.format));
    });
}
