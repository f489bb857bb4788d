/**
 * `farrier files upload|list|download|delete`: files in the boot tree's `files/` directory
 * (PUT/GET/DELETE /api/v1/files/{path}); a file uploaded as `<path>` is served to machines at `files/<path>`.
 */
import { basename } from 'node:path';
import { Command } from 'commander';
import { segment } from '../client.js';
import { contextFor, type Io } from '../context.js';
import { renderList, renderObject } from '../output.js';
import { saveBody, uploadFile } from '../transfer.js';

/** `a/b c/d` → `a/b%20c/d`: each segment encoded, the slashes kept (the API's {path} spans them). */
export const filePath = (path: string): string => path.split('/').map(segment).join('/');

export function filesCommand(io: Io): Command {
  const group = new Command('files').description('upload, list, download and delete files served by the boot tree at files/<path>');
  group.addHelpText(
    'after',
    `
A file uploaded as <path> is stored under <data-dir>/files/files/<path> and served over HTTP at
/files/<path> and over TFTP as files/<path>; a bootenv refers to it as /files/<path>.

Examples:
  $ farrier files upload ./vmlinuz flatcar/vmlinuz
  $ farrier files list flatcar
  $ farrier files download flatcar/vmlinuz /tmp/vmlinuz
  $ farrier files delete flatcar/vmlinuz`,
  );
  group
    .command('upload')
    .description('upload a local file to <path> (streamed; prints path, size and sha256)')
    .argument('<local>', 'local file')
    .argument('<path>', 'path under the files root, e.g. flatcar/vmlinuz')
    .addHelpText('after', `\nExamples:\n  $ farrier files upload ./vmlinuz flatcar/vmlinuz\n  $ farrier files upload ./config.ign machines/web1.ig`)
    .action(async (local: string, path: string, _opts: unknown, cmd: Command) => {
      const ctx = contextFor(cmd, io);
      ctx.out(renderObject(await uploadFile(ctx, io, 'PUT', `files/${filePath(path)}`, local, `upload ${path}`), ctx.format));
    });
  group
    .command('list')
    .description('list a directory of the files root (default: the root)')
    .argument('[dir]', 'directory under the files root')
    .addHelpText('after', `\nExamples:\n  $ farrier files list\n  $ farrier files list flatcar -o jso`)
    .action(async (dir: string | undefined, _opts: unknown, cmd: Command) => {
      const ctx = contextFor(cmd, io);
      const res = await ctx.client.get<unknown[]>('files', { path: dir });
      ctx.out(
        renderList(res.body, ctx.format, [
          { header: 'name', value: (r) => r.name },
          { header: 'type', value: (r) => r.type },
          { header: 'size', value: (r) => r.size },
          { header: 'mtime', value: (r) => r.mtime },
        ]),
      );
    });
  group
    .command('download')
    .description('download <path> to [out] (default: its base name in the current directory; - for stdout)')
    .argument('<path>', 'path under the files root')
    .argument('[out]', 'local file, or - for stdout')
    .addHelpText('after', `\nExamples:\n  $ farrier files download flatcar/vmlinuz\n  $ farrier files download flatcar/vmlinuz - | sha256sum`)
    .action(async (path: string, out: string | undefined, _opts: unknown, cmd: Command) => {
      const ctx = contextFor(cmd, io);
      const res = await ctx.client.stream('GET', `files/${filePath(path)}`);
      const target = out ?? basename(path);
      const size = await saveBody(res, io, target, `download ${path}`);
      if (target !== '-') ctx.out(renderObject({ path, file: target, size }, ctx.format));
    });
  group
    .command('delete')
    .description('delete <path> from the files root')
    .argument('<path>', 'path under the files root')
    .addHelpText('after', `\nExamples:\n  $ farrier files delete flatcar/vmlinuz`)
    .action(async (path: string, _opts: unknown, cmd: Command) => {
      const ctx = contextFor(cmd, io);
      ctx.out(renderObject((await ctx.client.request('DELETE', `files/${filePath(path)}`)).body, ctx.format));
    });
  return group;
}
