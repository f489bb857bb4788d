/**
 * Boots a QEMU "bare-metal" machine on a TAP inside a test network namespace and follows its serial console.
 * TCG by default: this host's /dev/kvm is PVM (no vmx/svm), on which firmware and kernels do not run.
 * Firmware: SeaBIOS (+ QEMU's iPXE NIC ROM) or OVMF with a fresh VARS copy per boot; with `noRom` on
 * virtio-net, OVMF's own PXE client runs instead of the iPXE ROM. QEMU is always stopped by PID.
 */
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Test } from 'tap';
import { tempDir } from '../../helpers/env.js';
import type { Netns, NsProcess } from './netns.js';

export const OVMF_CODE = '/usr/share/OVMF/OVMF_CODE_4M.fd';
export const OVMF_VARS = '/usr/share/OVMF/OVMF_VARS_4M.fd';

export interface VmOptions {
  ns: Netns;
  tap: string;
  mac: string;
  firmware: 'bios' | 'uefi';
  nic?: 'e1000' | 'virtio-net-pci';
  /** No option ROM on the NIC: UEFI then PXE-boots with OVMF's own stack (needs virtio-net-pci). */
  noRom?: boolean;
  memMb?: number;
  accel?: 'tcg' | 'kvm';
  name?: string;
  /** Where serial.log and qemu.log go (default: a temp dir removed after the test). */
  logDir?: string;
  /**
   * UEFI variable store to keep across boots of the same machine (copied from the OVMF template when it
   * does not exist yet). Default: a fresh copy per boot.
   */
  uefiVars?: string;
  /** Extra QEMU arguments (e.g. a disk for a machine that should boot locally on its second start). */
  extraArgs?: string[];
}

export interface SerialLine {
  /** Milliseconds since QEMU started. */
  atMs: number;
  text: string;
}

// ANSI CSI sequences and the full-reset `ESC c` that iPXE and SeaBIOS write to the console
const ANSI = /\x1b\[[0-9;?]*[A-Za-z]|\x1bc/g;

export class QemuVm {
  readonly lines: SerialLine[] = [];
  private offset = 0;
  private partial = '';
  private readonly started = Date.now();
  private readonly poller: NodeJS.Timeout;
  private exitCode: number | null | undefined;

  constructor(
    readonly process: NsProcess,
    readonly serialLog: string,
    readonly qemuLog: string,
  ) {
    this.poller = setInterval(() => this.readSerial(), 100);
    void process.exited.then((code) => {
      this.exitCode = code;
      this.readSerial(true);
      clearInterval(this.poller);
    });
  }

  get pid(): number {
    return this.process.pid;
  }

  /** True once QEMU has exited (guest powered off, or killed). */
  get exited(): boolean {
    return this.exitCode !== undefined;
  }

  private readSerial(flush = false): void {
    let buf: Buffer;
    try {
      buf = readFileSync(this.serialLog);
    } catch {
      return;
    }
    if (buf.length > this.offset) {
      this.partial += buf.subarray(this.offset).toString('latin1');
      this.offset = buf.length;
    }
    const parts = this.partial.split('\n');
    this.partial = parts.pop() ?? '';
    if (flush && this.partial) {
      parts.push(this.partial);
      this.partial = '';
    }
    const at = Date.now() - this.started;
    for (const p of parts) this.lines.push({ atMs: at, text: p.replace(ANSI, '').replace(/\r/g, '') });
  }

  /** The whole console so far, cleaned (for failure messages). */
  transcript(): string {
    this.readSerial();
    return this.lines.map((l) => `${(l.atMs / 1000).toFixed(1).padStart(6)}  ${l.text}`).join('\n');
  }

  /**
   * Resolves with the first console line matching `pattern` (seen at any time since boot), rejects when
   * `timeoutMs` passes or QEMU exits without it; the rejection carries the end of the console.
   */
  async waitForLine(pattern: RegExp | string, timeoutMs: number): Promise<SerialLine> {
    const matches = (l: SerialLine): boolean => (typeof pattern === 'string' ? l.text.includes(pattern) : pattern.test(l.text));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      this.readSerial(this.exited);
      const hit = this.lines.find(matches);
      if (hit) return hit;
      if (this.exited || Date.now() > deadline) {
        const why = this.exited ? `QEMU exited (code ${this.exitCode})` : `timed out after ${timeoutMs} ms`;
        const tail = this.transcript().split('\n').slice(-40).join('\n');
        let stderr = '';
        try {
          stderr = readFileSync(this.qemuLog, 'utf8').trim();
        } catch {
          // no QEMU output
        }
        throw new Error(`${why} waiting for ${String(pattern)}; console tail:\n${tail}${stderr ? `\nqemu: ${stderr}` : ''}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Resolves when QEMU exits by itself (guest poweroff), rejects after `timeoutMs`. */
  async waitForExit(timeoutMs: number): Promise<number | null> {
    const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), timeoutMs).unref());
    const r = await Promise.race([this.process.exited, timer]);
    if (r === 'timeout') throw new Error(`QEMU still running after ${timeoutMs} ms`);
    return r;
  }

  async stop(): Promise<void> {
    await this.process.stop();
    clearInterval(this.poller);
  }
}

/** Starts QEMU inside `opts.ns` on `opts.tap`; it is stopped at teardown if it is still running. */
export function bootVm(t: Test, opts: VmOptions): QemuVm {
  const dir = opts.logDir ?? tempDir(t, 'farrier-vm-');
  const name = opts.name ?? `${opts.firmware}-${opts.mac.replace(/:/g, '')}`;
  const serialLog = join(dir, `serial-${name}.log`);
  const qemuLog = join(dir, `qemu-${name}.log`);
  writeFileSync(serialLog, '');
  const nic = opts.nic ?? 'e1000';
  const args = [
    '-name', `farrier-${name}`, '-m', String(opts.memMb ?? 512), '-smp', '1',
    '-display', 'none', '-monitor', 'none', '-serial', `file:${serialLog}`, '-no-reboot',
    '-netdev', `tap,id=n0,ifname=${opts.tap},script=no,downscript=no`,
    '-device', `${nic},netdev=n0,mac=${opts.mac},bootindex=1${opts.noRom ? ',romfile=' : ''}`,
    '-accel', opts.accel ?? 'tcg',
  ];
  if (opts.firmware === 'bios') {
    // SeaBIOS "sercon": mirror BIOS and option-ROM text (iPXE, pxelinux) to ttyS0; 0x3f8 little-endian
    const sercon = join(dir, 'sercon-port.bin');
    writeFileSync(sercon, Buffer.from([0xf8, 0x03]));
    args.push('-M', 'pc', '-boot', 'n', '-fw_cfg', `name=etc/sercon-port,file=${sercon}`);
  } else {
    // OVMF follows bootindex; by default each boot gets its own VARS so no state leaks between runs
    const vars = opts.uefiVars ?? join(dir, `OVMF_VARS-${name}.fd`);
    if (!opts.uefiVars || !existsSync(vars)) copyFileSync(OVMF_VARS, vars);
    args.push('-M', 'q35', '-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${OVMF_CODE}`, '-drive', `if=pflash,format=raw,unit=1,file=${vars}`);
  }
  args.push(...(opts.extraArgs ?? []));
  const proc = opts.ns.spawn('qemu-system-x86_64', args, { logFile: qemuLog });
  const vm = new QemuVm(proc, serialLog, qemuLog);
  t.teardown(() => vm.stop());
  return vm;
}
