/**
 * Machine-only verbs on top of the generic ones: `machines bootenv <key> <env>`, `machines timeline <key>`.
 */
import type { Command } from 'commander';
import { segment } from '../client.js';
import { contextFor, type Io } from '../context.js';
import { renderObject } from '../output.js';
import { addTimelineCommand } from './timeline.js';

export function addMachineCommands(group: Command, io: Io): void {
  group
    .command('bootenv')
    .description("set a machine's bootenv (fails with 422 listing the bootenv's required params the machine lacks)")
    .argument('<key>', 'uuid, name:<name> or mac:<mac>')
    .argument('<bootenv>', 'bootenv name, e.g. local, discovery, debian-12-install')
    .addHelpText(
      'after',
      `
The machine boots into the new bootenv on its next network boot; \`local\` boots from disk.

Examples:
  $ farrier machines bootenv name:web1 debian-12-install
  $ farrier machines bootenv mac:52:54:00:12:34:56 local`,
    )
    .action(async (key: string, bootenv: string, _opts: unknown, cmd: Command) => {
      const ctx = contextFor(cmd, io);
      const res = await ctx.client.request('POST', `machines/${segment(key)}/bootenv`, { body: { bootenv } });
      ctx.out(renderObject(res.body, ctx.format));
    });
  addTimelineCommand(group, io);
}
