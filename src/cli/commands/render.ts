/**
 * `farrier render <machine> <path>`: prints exactly what the machine would receive at that boot-tree path
 * (GET /api/v1/machines/{key}/render), so a template can be checked before the machine boots.
 */
import { Command } from 'commander';
import { segment } from '../client.js';
import { contextFor, type Io } from '../context.js';

export function renderCommand(io: Io): Command {
  return new Command('render')
    .description('print the file a machine would receive at a boot-tree path, rendered now')
    .argument('<machine>', 'uuid, name:<name> or mac:<mac>')
    .argument('<path>', 'ipxe | pxelinux | grub (its loader config), a file under machines/<uuid>/ (user-data) or a full tree path (52-54-00-12-34-56.ipxe)')
    .addHelpText(
      'after',
      `
The output holds the machine's secure params and a machine token; read-only users may not render.
A template error prints the machine, bootenv, template, line and missing param, and exits 1.

Examples:
  $ farrier render name:web1 ipxe
  $ farrier render mac:52:54:00:12:34:56 user-data
  $ farrier render name:web1 pxelinux.cfg/01-52-54-00-12-34-56`,
    )
    .action(async (key: string, path: string, _opts: unknown, cmd: Command) => {
      const ctx = contextFor(cmd, io);
      const res = await ctx.client.get<string>(`machines/${segment(key)}/render`, { path });
      ctx.out(typeof res.body === 'string' ? res.body : '');
    });
}
