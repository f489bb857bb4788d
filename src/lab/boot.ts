/**
 * `farrier lab boot`: a QEMU VM (TCG, no KVM needed) on the lab's TAP, network-booting from the lab's
 * Farrier. Its serial console and the machine's new timeline entries stream to the caller until a line
 * contains `until`, the VM powers off, or the timeout passes. QEMU's PID is kept in the lab state so
 * `lab down` stops it too.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FarrierError } from '../errors.js';
import { type LabState, labApi, readLabState, writeLabState } from './lab.js';

export const OVMF_CODE = '/usr/share/OVMF/OVMF_CODE_4M.fd';
const OVMF_VARS = '/usr/share/OVMF/OVMF_VARS_4M.fd';
// ANSI CSI sequences and the full reset SeaBIOS and iPXE write to the console
const ANSI = /\x1b\[[0-9;?]*[A-Za-z]|\x1bc/g;

export interface LabBootOptions {
  stateDir: string;
  uefi?: boolean;
  /** MAC of the VM (default: the demo machine's). */
  mac?: string;
  /** Stop (successfully) once a console line contains this text. */
  until?: string;
  timeoutSeconds?: number;
  /** One console line or timeline entry, already formatted. */
  print(line: string): void;
}

export type LabBootResult = 'matched' | 'powered-off' | 'timed-out' | 'interrupted';

function qemuArgs(state: LabState, mac: string, uefi: boolean, dir: string): string[] {
  const args = [
    '-name', 'farrier-lab', '-m', '512', '-smp', '1', '-display', 'none', '-monitor', 'none', '-serial', 'stdio', '-no-reboot',
    '-netdev', `tap,id=n0,ifname=${state.tap},script=no,downscript=no`,
    '-device', `e1000,netdev=n0,mac=${mac},bootindex=1`,
    '-accel', 'tcg',
  ];
  if (!uefi) {
    // SeaBIOS "sercon": BIOS and option-ROM (iPXE) text on ttyS0 too; port 0x3f8, little-endian
    const sercon = join(dir, 'sercon-port.bin');
    writeFileSync(sercon, Buffer.from([0xf8, 0x03]));
    return [...args, '-M', 'pc', '-boot', 'n', '-fw_cfg', `name=etc/sercon-port,file=${sercon}`];
  }
  const vars = join(dir, 'OVMF_VARS.fd');
  copyFileSync(OVMF_VARS, vars);
  return [...args, '-M', 'q35', '-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${OVMF_CODE}`, '-drive', `if=pflash,format=raw,unit=1,file=${vars}`];
}

export async function labBoot(opts: LabBootOptions): Promise<LabBootResult> {
  const state = readLabState(opts.stateDir);
  if (!state) throw new FarrierError('NOT_FOUND', 'no lab is up: run `farrier lab up` first');
  const mac = (opts.mac ?? state.demoMac).toLowerCase();
  const timelinePath = `/api/v1/machines/mac:${mac}/timeline`;
  const before = await labApi(state, 'GET', timelinePath);
  let shown = Array.isArray(before.body) ? before.body.length : 0;
  if (before.status === 404) opts.print(`[lab] no machine has MAC ${mac}: it boots as an unknown machine (no timeline)`);

  const dir = mkdtempSync(join(tmpdir(), 'farrier-lab-vm-'));
  const qemu = spawn('ip', ['netns', 'exec', state.ns, 'qemu-system-x86_64', ...qemuArgs(state, mac, opts.uefi === true, dir)], { stdio: ['ignore', 'pipe', 'pipe'] });
  writeLabState(opts.stateDir, { ...state, qemuPid: qemu.pid });
  opts.print(`[lab] booting a ${opts.uefi ? 'UEFI' : 'BIOS'} VM with MAC ${mac} (QEMU pid ${qemu.pid}); Ctrl-C stops it`);

  return new Promise<LabBootResult>((resolve) => {
    let done = false;
    const finish = (result: LabBootResult): void => {
      if (done) return;
      done = true;
      clearInterval(poll);
      clearTimeout(timer);
      process.off('SIGINT', interrupt);
      if (qemu.exitCode === null) qemu.kill('SIGTERM');
      const current = readLabState(opts.stateDir);
      if (current) writeLabState(opts.stateDir, { ...current, qemuPid: undefined });
      resolve(result);
    };
    const interrupt = (): void => finish('interrupted');
    process.once('SIGINT', interrupt);
    const timer = opts.timeoutSeconds ? setTimeout(() => finish('timed-out'), opts.timeoutSeconds * 1000) : undefined;
    let partial = '';
    qemu.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      const lines = (partial + chunk).replace(ANSI, '').split(/\r?\n/);
      partial = lines.pop() ?? '';
      for (const raw of lines) {
        const line = raw.replace(/\r/g, '');
        if (line.trim() === '') continue;
        opts.print(line);
        if (opts.until && line.includes(opts.until)) finish('matched');
      }
    });
    qemu.stderr.setEncoding('utf8').on('data', (s: string) => opts.print(`[qemu] ${s.trimEnd()}`));
    qemu.on('exit', () => finish('powered-off'));
    let polling = false;
    const poll = setInterval(() => {
      if (polling) return;
      polling = true;
      labApi(state, 'GET', timelinePath)
        .then((r) => {
          if (!Array.isArray(r.body)) return;
          for (const e of (r.body as { kind: string; summary: string }[]).slice(shown)) opts.print(`[timeline] ${e.kind}: ${e.summary}`);
          shown = r.body.length;
        })
        .catch(() => undefined)
        .finally(() => (polling = false));
    }, 1000);
  });
}
