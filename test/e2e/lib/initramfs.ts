/**
 * Builds the busybox test initramfs the e2e boots use, cached per kernel version and /init content.
 *
 * The guest's /init is generic: it loads the NIC drivers, DHCPs with udhcpc, then runs whatever script the
 * kernel command line names with `farrier.script=<url>` (the machine's rendered per-machine file decides
 * what happens), with helpers from /lib/farrier.sh. Markers on ttyS0 let the test follow the boot:
 *   FARRIER-E2E: init started | FARRIER-E2E: lease ip=… | FARRIER-E2E-DONE rc=N | FARRIER-E2E-FAIL <reason>
 * Optional `farrier.fetch=<url>` prints a file line by line as `FARRIER-E2E-FILE: <line>` before the script.
 * Finally it powers off, so QEMU (-no-reboot) exits.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { findTool } from '../../helpers/env.js';

const execFileP = promisify(execFile);

export interface GuestKernel {
  /** /boot/vmlinuz-<kver> */
  kernel: string;
  kver: string;
}

/** The newest Debian kernel in /boot whose modules are installed (linux-image-amd64). */
export function findGuestKernel(): GuestKernel | undefined {
  if (!existsSync('/boot')) return undefined;
  const kvers = readdirSync('/boot')
    .filter((f) => f.startsWith('vmlinuz-'))
    .map((f) => f.slice('vmlinuz-'.length))
    .filter((kver) => existsSync(join('/lib/modules', kver)))
    .sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  const kver = kvers.at(-1);
  return kver ? { kernel: `/boot/vmlinuz-${kver}`, kver } : undefined;
}

/** Debian builds these NICs as modules; `modprobe -D` gives each one's insmod order with dependencies. */
const NIC_MODULES = ['e1000', 'e1000e', 'virtio_pci', 'virtio_net'];

const UDHCPC_SCRIPT = `#!/bin/sh
# udhcpc hook: configure the lease and record it for scripts (/run/lease.env)
case "$1" in
  deconfig) ip addr flush dev "$interface"; ip link set "$interface" up ;;
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/\${mask:-24}" dev "$interface"
    for r in $router; do ip route add default via "$r" dev "$interface" 2>/dev/null; break; done
    {
      echo "LEASE_IP=$ip"; echo "LEASE_MASK=$mask"; echo "LEASE_ROUTER=$router"
      echo "LEASE_SERVER=$serverid"; echo "LEASE_SIADDR=$siaddr"; echo "LEASE_BOOTFILE=$boot_file"
    } >/run/lease.env
    ;;
esac
exit 0
`;

/** Sourced before the fetched script: the helpers a per-machine script may use. */
const FARRIER_LIB = `# helpers for farrier.script (busybox sh)
say() { echo "$*"; }
# busybox 1.35 wget -T segfaults: bound every request with timeout instead
fetch() { timeout 30 wget -q -O - "$1"; }
# post_json URL TOKEN JSON: POST with a bearer token, response body on stdout
post_json() { timeout 30 wget -q -O - --header "Authorization: Bearer $2" --header "Content-Type: application/json" --post-data "$3" "$1"; }
`;

const INIT = `#!/bin/sh
export PATH=/bin:/sbin
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /run /tmp
exec </dev/console >/dev/console 2>&1

off() { sync; poweroff -f; sleep 5; echo o >/proc/sysrq-trigger; }
fail() { echo "FARRIER-E2E-FAIL $*"; off; }

echo "FARRIER-E2E: init started uptime=$(cut -d' ' -f1 /proc/uptime)"
script=""; fetchurl=""; iface=eth0
for a in $(cat /proc/cmdline); do
  case "$a" in
    farrier.script=*) script=\${a#farrier.script=} ;;
    farrier.fetch=*) fetchurl=\${a#farrier.fetch=} ;;
    farrier.iface=*) iface=\${a#farrier.iface=} ;;
    BOOTIF=*) echo "FARRIER-E2E: BOOTIF=\${a#BOOTIF=}" ;;
  esac
done

for m in $(cat /lib/modules/load.list); do insmod "/lib/modules/$m" 2>/dev/null; done
i=0; while [ ! -e "/sys/class/net/$iface" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
[ -e "/sys/class/net/$iface" ] || fail "no $iface (have: $(ls /sys/class/net | tr '\\n' ' '))"
ip link set lo up
ip link set "$iface" up
# e1000 needs 2-3 s for carrier; udhcpc's first DISCOVER is lost before that
i=0; while [ "$(cat /sys/class/net/$iface/carrier 2>/dev/null)" != 1 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
MAC=$(cat /sys/class/net/$iface/address)
udhcpc -i "$iface" -f -q -n -t 10 -T 1 -s /etc/udhcpc.script >/dev/null 2>&1 || fail "udhcpc got no lease on $iface mac=$MAC"
. /run/lease.env
echo "FARRIER-E2E: lease ip=$LEASE_IP mac=$MAC server=$LEASE_SERVER"
export MAC LEASE_IP LEASE_MASK LEASE_ROUTER LEASE_SERVER LEASE_SIADDR LEASE_BOOTFILE

. /lib/farrier.sh
if [ -n "$fetchurl" ]; then
  fetch "$fetchurl" >/tmp/fetched || fail "fetch $fetchurl failed"
  while IFS= read -r line || [ -n "$line" ]; do echo "FARRIER-E2E-FILE: $line"; done </tmp/fetched
fi
if [ -n "$script" ]; then
  fetch "$script" >/tmp/script || fail "fetch $script failed"
  echo "FARRIER-E2E: running $script"
  ( . /lib/farrier.sh; . /tmp/script )
  echo "FARRIER-E2E-DONE rc=$?"
elif [ -z "$fetchurl" ]; then
  fail "no farrier.script= or farrier.fetch= on the kernel command line"
else
  echo "FARRIER-E2E-DONE rc=0"
fi
off
`;

export interface TestInitramfs {
  path: string;
  kernel: string;
  kver: string;
  /** Modules in insmod order. */
  modules: string[];
}

const run = async (cmd: string, args: string[], cwd?: string): Promise<string> =>
  (await execFileP(findTool(cmd) ?? cmd, args, { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })).stdout;

/** Tools the build needs (for requireTool in tests). */
export const INITRAMFS_TOOLS = ['busybox', 'modprobe', 'cpio', 'gzip', 'xz', 'zstd', 'sh'];

/**
 * Returns the cached image for this kernel and /init, building it first if needed. Concurrent builders
 * write to private temp names and rename, so parallel test files never see a half-written image.
 */
export async function buildTestInitramfs(opts: { cacheDir?: string; guest?: GuestKernel } = {}): Promise<TestInitramfs> {
  const guest = opts.guest ?? findGuestKernel();
  if (!guest) throw new Error('no guest kernel: /boot/vmlinuz-* with /lib/modules/<kver> (apt-get install linux-image-amd64)');
  const busybox = findTool('busybox');
  if (!busybox) throw new Error('busybox missing (apt-get install busybox-static)');
  if (!/statically linked/.test(await run('file', ['-L', busybox]))) throw new Error(`${busybox} is not static (apt-get install busybox-static)`);

  const modules: { src: string; name: string }[] = [];
  for (const m of NIC_MODULES) {
    const out = await run('modprobe', ['-S', guest.kver, '-D', m]);
    for (const line of out.split('\n')) {
      const [verb, ko] = line.trim().split(/\s+/);
      if (verb !== 'insmod' || !ko) continue;
      const name = basename(ko).replace(/\.(xz|zst)$/, '');
      if (!modules.some((x) => x.name === name)) modules.push({ src: ko, name });
    }
  }
  const key = createHash('sha256')
    .update([guest.kver, INIT, UDHCPC_SCRIPT, FARRIER_LIB, ...modules.map((m) => m.src)].join('\0'))
    .digest('hex')
    .slice(0, 12);
  const cacheDir = opts.cacheDir ?? join(tmpdir(), 'farrier-e2e-cache');
  mkdirSync(cacheDir, { recursive: true });
  const out = join(cacheDir, `initramfs-${guest.kver}-${key}.gz`);
  const result = { path: out, kernel: guest.kernel, kver: guest.kver, modules: modules.map((m) => m.name) };
  if (existsSync(out)) return result;

  const stage = join(cacheDir, `build-${randomBytes(4).toString('hex')}`);
  try {
    for (const d of ['bin', 'sbin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'run', 'lib/modules']) mkdirSync(join(stage, d), { recursive: true });
    copyFileSync(busybox, join(stage, 'bin/busybox'));
    chmodSync(join(stage, 'bin/busybox'), 0o755);
    symlinkSync('busybox', join(stage, 'bin/sh'));
    for (const m of modules) {
      const dest = join(stage, 'lib/modules', m.name);
      if (m.src.endsWith('.xz')) await run('sh', ['-c', 'xz -dc "$1" >"$2"', 'sh', m.src, dest]);
      else if (m.src.endsWith('.zst')) await run('sh', ['-c', 'zstd -qdc "$1" >"$2"', 'sh', m.src, dest]);
      else copyFileSync(m.src, dest);
    }
    writeFileSync(join(stage, 'lib/modules/load.list'), modules.map((m) => m.name).join('\n') + '\n');
    writeFileSync(join(stage, 'etc/udhcpc.script'), UDHCPC_SCRIPT, { mode: 0o755 });
    writeFileSync(join(stage, 'lib/farrier.sh'), FARRIER_LIB);
    writeFileSync(join(stage, 'init'), INIT, { mode: 0o755 });
    const tmpOut = `${out}.${randomBytes(4).toString('hex')}.tmp`;
    await run('sh', ['-c', 'find . -print0 | sort -z | cpio --null -o -H newc --owner=0:0 --quiet | gzip -9 >"$1"', 'sh', tmpOut], stage);
    renameSync(tmpOut, out);
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
  return result;
}
