/**
 * `farrier lab up|down`: a private lab network with a Farrier instance on it (src/lab), for trying Farrier
 * and booting VMs against it on a laptop. Linux, root.
 */
import { Command } from 'commander';
import { contextFor, type Io } from '../context.js';
import { renderObject } from '../output.js';
import { FarrierError } from '../../errors.js';
import { labBoot } from '../../lab/boot.js';
import { labDown, labUp } from '../../lab/lab.js';
import { nonNegativeInt } from './crud.js';

const DEFAULT_STATE_DIR = '/run/farrier-lab';

export function labCommand(io: Io): Command {
  const group = new Command('lab').description('a private lab network (namespace + bridge + TAP) with Farrier on it (Linux, root)').usage('up|boot|down [options]');
  group.addHelpText(
    'after',
    `
Nothing touches the host's interfaces: the bridge (10.77.0.1/24) and the TAP (tap0) for a VM live in a
network namespace of their own, and Farrier serves DHCP, TFTP and HTTP there.

Run it as root.

Examples:
  $ farrier lab up
  $ farrier lab down
  $ ip netns exec <namespace> curl -u admin:<password> http://10.77.0.1:8091/api/v1/machines`,
  );
  group
    .command('up')
    .description('create the lab network, start Farrier on it, create subnet "lab" and machine "demo"')
    .option('--state-dir <dir>', 'where the lab keeps its state, data dir and log', DEFAULT_STATE_DIR)
    .option('--bootenv <name>', 'bootenv of the demo machine', 'local')
    .addHelpText('after', `\nExamples:\n  $ farrier lab up\n  $ farrier lab up --bootenv debian-12-install --state-dir /tmp/lab`)
    .action(async (opts: { stateDir: string; bootenv: string }, cmd: Command) => {
      const ctx = contextFor(cmd, io);
      const s = await labUp({ stateDir: opts.stateDir, bootenv: opts.bootenv });
      const summary = { namespace: s.ns, bridge: `${s.bridge} ${s.address}`, tap: s.tap, api: s.url, user: 'admin', password: s.password, demoMac: s.demoMac, log: s.log, dataDir: s.dataDir };
      ctx.out(renderObject(summary, ctx.format));
      if (ctx.format === 'table') ctx.out(`\nReach the API from inside the lab: sudo ip netns exec ${s.ns} curl -u admin:${s.password} ${s.url}/api/v1/info\n`);
    });
  group
    .command('boot')
    .description('boot a QEMU VM (TCG) on the lab network, streaming its serial console and its machine\'s timeline')
    .option('--uefi', 'UEFI firmware (OVMF) instead of BIOS (SeaBIOS + iPXE ROM)')
    .option('--mac <mac>', 'MAC of the VM (default: the demo machine\'s)')
    .option('--until <text>', 'stop once a console line contains this text')
    .option('--timeout <seconds>', 'give up (exit 1) after this long', nonNegativeInt('--timeout'))
    .option('--state-dir <dir>', 'the state dir given to `lab up`', DEFAULT_STATE_DIR)
    .addHelpText(
      'after',
      `
The demo machine boots its bootenv (\`lab up --bootenv <name>\`, or changed through the lab API); a VM with
another MAC boots as an unknown machine. Ctrl-C stops the VM.

Examples:
  $ farrier lab boot
  $ farrier lab boot --uefi --until "login:" --timeout 300`,
    )
    .action(async (opts: { uefi?: boolean; mac?: string; until?: string; timeout?: number; stateDir: string }) => {
      const result = await labBoot({ stateDir: opts.stateDir, uefi: opts.uefi, mac: opts.mac, until: opts.until, timeoutSeconds: opts.timeout, print: (line) => void io.stdout.write(`${line}\n`) });
      io.stdout.write(`[lab] ${result}\n`);
      if (result === 'timed-out') throw new FarrierError('UNAVAILABLE', `no console line contained ${JSON.stringify(opts.until ?? '')} within ${opts.timeout} s`);
    });
  group
    .command('down')
    .description('stop the lab\'s processes (by PID) and delete its network namespace')
    .option('--state-dir <dir>', 'the state dir given to `lab up`', DEFAULT_STATE_DIR)
    .addHelpText('after', `\nExamples:\n  $ farrier lab down\n  $ farrier lab down --state-dir /tmp/lab`)
    .action(async (opts: { stateDir: string }, cmd: Command) => {
      const ctx = contextFor(cmd, io);
      ctx.out((await labDown({ stateDir: opts.stateDir })) ? 'lab stopped and removed\n' : 'no lab is up\n');
    });
  return group;
}
