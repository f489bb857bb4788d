/**
 * `farrier explain`: a dry run of one machine's whole network boot, without the machine. The DHCP decision
 * comes from the same pure function the DHCP server calls (src/boot/decide.ts), fed with the request a
 * firmware of the chosen kind would send; the loader, the script it runs and every file that script and the
 * bootenv's templates point at are resolved by the boot tree that serves TFTP and HTTP. Rendering for a
 * known machine goes through renderForMachine, which publishes nothing: a dry run leaves no render errors
 * in the timeline or the metrics.
 */
import type { TreeClient, TreeEntry } from '../boot/tree.js';
import { type BootDecision, type BootRequestFacts, LOADERS, decideBoot } from '../boot/decide.js';
import { macHyphen, parseMac } from '../boot/address.js';
import type { Services } from '../core/services.js';
import { cidrContains, parseCidr } from '../dhcp/ipv4.js';
import { FarrierError } from '../errors.js';
import type { BootEnv, Machine, Reservation, Subnet } from '../model/types.js';

export const EXPLAIN_ARCHES = ['bios', 'uefi', 'arm64', 'http'] as const;
export type ExplainArch = (typeof EXPLAIN_ARCHES)[number];

/** What explain needs of the boot tree (DaemonBootLayer provides it). */
export interface ExplainTree {
  provisionerUrl(client: TreeClient): string;
  renderForMachine(uuid: string, path: string, provisionerUrl: string): Promise<TreeEntry>;
  lookup(path: string, client: TreeClient): Promise<TreeEntry>;
}

export interface ExplainStage {
  stage: 'firmware' | 'ipxe';
  request: { vendorClass?: string; arch?: number; userClass?: string };
  sendBootOptions: boolean;
  reason: string;
  nextServer: string;
  file: string;
  sname?: string;
  option60?: string;
}

export interface ExplainFile {
  path: string;
  url?: string;
  /** Where it is referenced: `loader`, `script`, `template <name>` or the file that links to it. */
  from: string;
  exists: boolean;
  kind?: 'rendered' | 'file';
  size?: number;
  /** Rendered text (scripts, installer configs). */
  text?: string;
  error?: string;
}

export interface Explanation {
  mac: string;
  machine: { uuid: string; name: string; bootenv: string; address: string | null } | null;
  arch: ExplainArch;
  ipxe: boolean;
  bootenv: { name: string; available: boolean; errors: string[] } | null;
  dhcp: {
    subnet: string | null;
    address: string | null;
    stages: ExplainStage[];
    options: { code: number; value: string }[];
  };
  loader: ExplainFile | null;
  script: ExplainFile | null;
  files: ExplainFile[];
  problems: string[];
}

const FIRMWARE: Record<ExplainArch, BootRequestFacts> = {
  bios: { vendorClass: 'PXEClient:Arch:00000:UNDI:002001', arch: 0, ipxeFeatures: false, prl: [1, 3, 6, 15, 66, 67] },
  uefi: { vendorClass: 'PXEClient:Arch:00007:UNDI:003016', arch: 7, ipxeFeatures: false, prl: [1, 3, 6, 15, 66, 67] },
  arm64: { vendorClass: 'PXEClient:Arch:00011:UNDI:003000', arch: 11, ipxeFeatures: false, prl: [1, 3, 6, 15, 66, 67] },
  http: { vendorClass: 'HTTPClient:Arch:00016:UNDI:003001', arch: 16, ipxeFeatures: false, prl: [1, 3, 6, 15, 66, 67] },
};
const IPXE_LOADERS = new Set<string>([LOADERS.biosIpxe, LOADERS.efiIpxe, LOADERS.efiSnp, LOADERS.arm64Ipxe]);
const LOADER_TEMPLATES = new Set(['ipxe', 'pxelinux', 'grub']);
/** Files a script or config points at, on our own HTTP server. */
const URL_RE = /https?:\/\/[^\s"'<>]+/g;

export interface ExplainRequest {
  /** A MAC, or a machine key (uuid, name:<name>, mac:<mac>). */
  key: string;
  arch: ExplainArch;
  ipxe: boolean;
  /** The API connection's local address: the provisioner address a machine on that network would get. */
  localAddress?: string;
}

export async function explainBoot(services: Services, tree: ExplainTree, req: ExplainRequest): Promise<Explanation> {
  const asMac = parseMac(req.key.startsWith('mac:') ? req.key.slice(4) : req.key);
  const machine: Machine | undefined = asMac ? await services.machines.findRaw(`mac:${asMac}`) : await services.machines.resolveRaw(req.key);
  const mac = asMac ?? machine?.macs[0];
  if (!mac) throw new FarrierError('BAD_REQUEST', `machine ${req.key} has no MAC address to boot from`);
  const problems: string[] = [];
  const prefs = await services.prefs.getPrefs();
  const envName = machine ? machine.bootenv : prefs.unknownBootEnv;
  const bootenv: BootEnv | undefined = envName ? await services.bootenvs.find(envName) : undefined;
  if (machine) {
    const status = await services.machines.get(machine.uuid);
    problems.push(...status.errors);
  } else {
    problems.push(`no machine has MAC ${mac}: it boots as an unknown machine (pref unknownBootEnv = ${prefs.unknownBootEnv})`);
    if (bootenv && !bootenv.available) problems.push(`bootenv ${bootenv.name} is not available: ${bootenv.errors.join('; ')}`);
  }

  const reservation = (await services.reservations.list({})).items.find((r: Reservation) => r.mac === mac);
  const address = reservation?.address ?? machine?.address ?? null;
  const subnets = (await services.subnets.list({})).items;
  const subnet: Subnet | undefined = address ? subnets.find((s) => cidrContains(parseCidr(s.cidr), address)) : subnets.length === 1 ? subnets[0] : undefined;
  const client: TreeClient = { address: address ?? '0.0.0.0', port: 0, ...(req.localAddress ? { localAddress: req.localAddress } : {}) };
  const provisioner = new URL(tree.provisionerUrl(client));
  const bootFileOf = (opts: { code: number; value: string }[] | undefined) => opts?.find((o) => o.code === 67)?.value;

  const decide = (stage: ExplainStage['stage'], facts: BootRequestFacts): ExplainStage => {
    const d: BootDecision = decideBoot({
      request: facts,
      machine: machine ? { uuid: machine.uuid, bootenv: machine.bootenv } : undefined,
      bootenv: bootenv ? { name: bootenv.name, netboot: bootenv.netboot, loader: bootenv.loader } : undefined,
      prefs: { unknownBootEnv: prefs.unknownBootEnv, efiLoader: typeof prefs.efiLoader === 'string' ? prefs.efiLoader : undefined },
      reservationBootFile: bootFileOf(reservation?.options),
      subnetBootFile: bootFileOf(subnet?.options),
      reservationNextServer: reservation?.nextServer,
      subnetNextServer: subnet?.nextServer,
      serverAddress: provisioner.hostname,
      httpPort: Number(provisioner.port || 80),
    });
    const request = { vendorClass: facts.vendorClass, arch: facts.arch, ...(facts.userClass ? { userClass: facts.userClass } : {}) };
    return { stage, request, sendBootOptions: d.sendBootOptions, reason: d.reason, nextServer: d.siaddr, file: d.file, ...(d.sname ? { sname: d.sname } : {}), ...(d.option60 ? { option60: d.option60 } : {}) };
  };
  const ipxeFacts: BootRequestFacts = { ...FIRMWARE[req.arch], userClass: 'iPXE', ipxeFeatures: true };
  const stages = [decide(req.ipxe ? 'ipxe' : 'firmware', req.ipxe ? ipxeFacts : FIRMWARE[req.arch])];
  const first = stages[0]!;
  if (!first.sendBootOptions) problems.push(`DHCP sends no boot file: ${first.reason}`);
  // A firmware that loads iPXE asks DHCP again, now as iPXE: that second answer decides the script.
  if (!req.ipxe && first.sendBootOptions && IPXE_LOADERS.has(fileName(first.file))) stages.push(decide('ipxe', ipxeFacts));
  const last = stages[stages.length - 1]!;

  const fetch = async (path: string, from: string, url?: string): Promise<ExplainFile> => {
    const base: ExplainFile = { path, from, exists: false, ...(url ? { url } : {}) };
    let entry: TreeEntry;
    try {
      // renderForMachine reads a bare name as a file under machines/<uuid>/; loaders and other top-level
      // files are looked up as any client asks for them.
      const own = machine && (path.includes('/') || path.endsWith('.ipxe'));
      entry = own ? await tree.renderForMachine(machine.uuid, path, provisioner.origin) : await tree.lookup(path, client);
    } catch (err) {
      if (!(err instanceof FarrierError) || err.code !== 'RENDER') throw err;
      problems.push(`render error in ${path}: ${err.message}`);
      return { ...base, error: err.message };
    }
    if (entry.kind === 'missing') {
      problems.push(`${path} (${from}) does not exist: ${entry.reason}`);
      return { ...base, error: entry.reason };
    }
    if (entry.kind === 'file') return { ...base, exists: true, kind: 'file', size: entry.size };
    return { ...base, exists: true, kind: 'rendered', size: entry.data.length, text: entry.data.toString('utf8') };
  };
  const ownPath = (url: string): string | undefined => {
    if (url.includes('${')) return undefined; // an iPXE variable: known only on the machine
    try {
      const u = new URL(url.replace(/[),.;]+$/, ''));
      const path = decodeURIComponent(u.pathname.replace(/^\/+/, ''));
      // API calls in a script (callbacks, bootenv changes) are not boot files.
      return u.origin === provisioner.origin && !path.startsWith('api/') ? path : undefined;
    } catch {
      return undefined;
    }
  };

  let loader: ExplainFile | null = null;
  let script: ExplainFile | null = null;
  const files: ExplainFile[] = [];
  if (first.sendBootOptions && first.file) {
    const path = ownPath(first.file) ?? (/^https?:/.test(first.file) ? undefined : first.file);
    loader = path !== undefined ? await fetch(path, 'loader', /^https?:/.test(first.file) ? first.file : undefined) : { path: first.file, from: 'loader', exists: false, error: 'served by another server' };
  }
  if (last.sendBootOptions) {
    const scriptPath = fileName(last.file) === LOADERS.biosPxelinux ? `pxelinux.cfg/01-${macHyphen(mac)}` : IPXE_LOADERS.has(fileName(last.file)) || fileName(last.file) === LOADERS.script ? `${macHyphen(mac)}.ipxe` : undefined;
    if (scriptPath) script = await fetch(scriptPath, 'script');
  }

  // Everything the script links to on our server, then what those files link to, and the bootenv's templates.
  const seen = new Set<string>([loader?.path, script?.path].filter((p): p is string => p !== undefined));
  const queue: Array<{ text: string; from: string }> = script?.text ? [{ text: script.text, from: 'script' }] : [];
  const visit = async (path: string, from: string, url?: string): Promise<void> => {
    if (seen.has(path)) return;
    seen.add(path);
    const f = await fetch(path, from, url);
    files.push(f);
    if (f.text && files.length < 50) queue.push({ text: f.text, from: path });
  };
  while (queue.length > 0) {
    const { text, from } = queue.shift()!;
    for (const url of text.match(URL_RE) ?? []) {
      const path = ownPath(url);
      if (path) await visit(path, from, url);
    }
  }
  if (machine && bootenv) {
    for (const t of bootenv.templates) {
      if (LOADER_TEMPLATES.has(t.name)) continue;
      const m = /^\{\{\s*machine\.path\s*\}\}\/([^{}]+)$/.exec(t.path);
      if (m) await visit(`machines/${machine.uuid}/${m[1]}`, `template ${t.name}`);
    }
  }

  return {
    mac,
    machine: machine ? { uuid: machine.uuid, name: machine.name, bootenv: machine.bootenv, address: machine.address ?? null } : null,
    arch: req.arch,
    ipxe: req.ipxe,
    bootenv: bootenv ? { name: bootenv.name, available: bootenv.available, errors: bootenv.errors } : null,
    dhcp: { subnet: subnet?.name ?? null, address, stages, options: subnet?.options.filter((o) => o.code !== 67) ?? [] },
    loader,
    script,
    files,
    problems: [...new Set(problems)],
  };
}

function fileName(file: string): string {
  return file.slice(file.lastIndexOf('/') + 1);
}
