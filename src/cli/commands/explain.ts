/**
 * `farrier explain <mac|machine>`: the dry run of a machine's network boot (GET /api/v1/machines/{key}/explain)
 * as one readable report — DHCP answers, loader, script, the files it fetches and whether they exist, the
 * installer configs, and the problems found — or the JSON/YAML report with -o.
 */
import { Command, Option } from 'commander';
import { segment } from '../client.js';
import { contextFor, type Io } from '../context.js';
import { renderObject, renderTable } from '../output.js';
import type { ExplainFile, Explanation } from '../../explain/explain.js';

const MAC_RE = /^[0-9a-f]{2}([:-][0-9a-f]{2}){5}$/i;

function fileRow(f: ExplainFile): string[] {
  const state = f.error ? `MISSING: ${f.error}` : f.kind === 'rendered' ? `rendered, ${f.size ?? 0} bytes` : `file, ${f.size ?? 0} bytes`;
  return [f.path, f.from, f.exists ? 'yes' : 'NO', state];
}

const indent = (text: string): string => text.replace(/\n$/, '').split('\n').map((l) => `    ${l}`).join('\n') + '\n';

/** The human report: short sections, problems first and last so they are not missed. */
export function renderExplanation(r: Explanation): string {
  const out: string[] = [];
  const who = r.machine ? `machine ${r.machine.name} (${r.machine.uuid}), MAC ${r.mac}` : `unknown MAC ${r.mac}`;
  out.push(`Boot of ${who} as ${r.arch}${r.ipxe ? ' iPXE' : ''} firmware`);
  out.push(`bootenv: ${r.bootenv ? `${r.bootenv.name}${r.bootenv.available ? '' : ` (NOT AVAILABLE: ${r.bootenv.errors.join('; ')})`}` : '(none)'}`);
  out.push(`subnet: ${r.dhcp.subnet ?? '(none matched)'}   address: ${r.dhcp.address ?? '(from the pool)'}`);
  out.push('', 'DHCP');
  out.push(
    renderTable(
      ['stage', 'asks as', 'boot file', 'next-server', 'why'],
      r.dhcp.stages.map((s) => [s.stage, `${s.request.vendorClass ?? ''}${s.request.userClass ? ` + ${s.request.userClass}` : ''}`, s.sendBootOptions ? s.file : '(none)', s.sendBootOptions ? s.nextServer : '-', s.reason]),
    ).trimEnd(),
  );
  if (r.dhcp.options.length > 0) out.push(`other options: ${r.dhcp.options.map((o) => `${o.code}=${o.value}`).join(', ')}`);
  const files = [r.loader, r.script, ...r.files].filter((f): f is ExplainFile => f !== null);
  if (files.length > 0) out.push('', 'Files', renderTable(['path', 'from', 'exists', 'what'], files.map(fileRow)).trimEnd());
  for (const f of [r.script, ...r.files]) {
    if (f?.text !== undefined) out.push('', `--- ${f.path}`, indent(f.text).trimEnd());
  }
  out.push('', r.problems.length === 0 ? 'No problems found.' : `Problems (${r.problems.length}):`);
  for (const p of r.problems) out.push(`  - ${p}`);
  return out.join('\n') + '\n';
}

export function explainCommand(io: Io): Command {
  return new Command('explain')
    .description('dry-run a machine\'s network boot: DHCP answer, loader, script, files, installer configs, problems')
    .argument('<machine>', 'a MAC (need not belong to a machine), uuid, name:<name> or mac:<mac>')
    .addOption(new Option('--arch <arch>', 'the firmware: BIOS PXE, x86-64 UEFI PXE, arm64 UEFI PXE, UEFI HTTP boot').choices(['bios', 'uefi', 'arm64', 'http']).default('bios'))
    .option('--ipxe', 'the client is already iPXE (NIC ROM, USB stick)')
    .addHelpText(
      'after',
      `
Nothing is sent to the machine and nothing is recorded in its timeline. The report holds rendered files
(secure params, a machine token): read-only users may not run it. Use it when a machine loops in iPXE,
stops at a template error, or fetches a file that is not there.

Examples:
  $ farrier explain name:web1
  $ farrier explain 52:54:00:12:34:56 --arch uefi
  $ farrier explain name:web1 --ipxe -o json`,
    )
    .action(async (key: string, opts: { arch: string; ipxe?: boolean }, cmd: Command) => {
      const ctx = contextFor(cmd, io);
      const apiKey = MAC_RE.test(key) ? `mac:${key}` : key;
      const res = await ctx.client.get<Explanation>(`machines/${segment(apiKey)}/explain`, { arch: opts.arch, ipxe: opts.ipxe === true });
      ctx.out(ctx.format === 'table' ? renderExplanation(res.body) : renderObject(res.body, ctx.format));
    });
}
