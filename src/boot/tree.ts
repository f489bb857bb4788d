/**
 * The virtual boot tree, served identically over TFTP and HTTP. A path resolves, in order, to
 * (1) a file rendered for the machine it names (by MAC, IP or uuid), (2) a default entry of the
 * `unknownBootEnv`, (3) a packaged bootloader, (4) a static file under the boot root. Machines are found
 * through keyed lookups on the port, never by scanning them all.
 */
import { statSync } from 'node:fs';
import { FarrierError } from '../errors.js';
import type { BootEnv, Machine } from '../model/types.js';
import { addressFromHex, parseMac, plainIpv4, provisionerAddress } from './address.js';
import { configInitrdPath } from './context.js';
import { buildCpio } from './cpio.js';
import type { LoaderSet } from './loaders.js';
import type { BootData, BootSettings } from './ports.js';
import type { FileContents } from './fileContents.js';
import type { RenderedOutputs } from './outputCache.js';
import type { Renderer, TemplateSource } from './render.js';
import { fileVersion, type StaticRoot } from './staticFiles.js';

export interface TreeClient {
  address: string;
  port: number;
  /** The local address the request arrived on, when the protocol knows it (HTTP does, TFTP does not). */
  localAddress?: string;
}

export type TreeEntry = (
  | { kind: 'buffer'; data: Buffer; name: string }
  | {
      kind: 'file';
      path: string;
      size: number;
      name: string;
      mtime?: Date;
      /** The whole file, when it is kept in memory (fileContents.ts); otherwise stream it from `path`. */
      data?: Buffer;
    }
  | { kind: 'missing'; reason: string }
) & {
  /** The machine the file was rendered for, for the boot timeline. */
  machine?: { uuid: string; mac: string };
};

export type LoaderKind = 'ipxe' | 'pxelinux' | 'grub';

/** Template ids of the built-in files (templates/<id>.hbs), used when a bootenv does not override them. */
export const builtinTemplates = { ipxe: 'ipxe', pxelinux: 'pxelinux', grub: 'grub', bootIpxe: 'boot-ipxe', grubChooser: 'grub-chooser' } as const;

const MAC = '([0-9A-Fa-f]{2}(?:[:-][0-9A-Fa-f]{2}){5})';
const routes: Array<{ re: RegExp; kind: LoaderKind; key: 'mac' | 'hex' }> = [
  { re: new RegExp(`^${MAC}\\.ipxe$`), kind: 'ipxe', key: 'mac' },
  { re: new RegExp(`^pxelinux\\.cfg/01-${MAC}$`), kind: 'pxelinux', key: 'mac' },
  { re: /^pxelinux\.cfg\/([0-9A-F]{8})$/, kind: 'pxelinux', key: 'hex' },
  { re: new RegExp(`^grub/grub\\.cfg-(?:01-)?${MAC}$`), kind: 'grub', key: 'mac' },
  { re: /^grub\/grub\.cfg-([0-9A-F]{8})$/, kind: 'grub', key: 'hex' },
];
const defaultEntries: Record<string, LoaderKind> = { 'default.ipxe': 'ipxe', 'pxelinux.cfg/default': 'pxelinux', 'grub/grub.cfg-default': 'grub' };
const MACHINE_PATH = /^machines\/([0-9A-Za-z-]+)\/(.+)$/;
/** A template path of the form `{{machine.path}}/<name>`, no other expression. */
const MACHINE_FILE = /^\{\{\s*machine\.path\s*\}\}\/([^{}]+)$/;

/** Normalises a requested path: '\' as '/', no leading '/', no empty or '.' segments; undefined if it climbs. */
export function normalizeTreePath(raw: string): string | undefined {
  const segments = raw.replace(/\\/g, '/').split('/').filter((s) => s !== '' && s !== '.');
  if (segments.some((s) => s === '..' || s.includes('\0'))) return undefined;
  return segments.join('/');
}

export class BootTree {
  constructor(
    private readonly data: BootData,
    private readonly renderer: Renderer,
    private readonly settings: BootSettings,
    private readonly loaders: LoaderSet,
    private readonly staticRoot: StaticRoot,
    /** Rendered files kept for the second they were rendered in; without it every request renders. */
    private readonly outputs?: RenderedOutputs,
    /** Files on disk kept in memory; without it every request reads its file. */
    private readonly contents?: FileContents,
  ) {}

  private once(machine: Machine | null, key: string, produce: () => Promise<Buffer>): Promise<Buffer> {
    return this.outputs ? this.outputs.get(machine?.uuid ?? null, key, produce) : produce();
  }

  provisionerUrl(client: TreeClient): string {
    return `http://${provisionerAddress(this.settings.staticIp, client.address, client.localAddress)}:${this.settings.httpPort}`;
  }

  /** Resolves one request. A template that fails to render throws a RENDER FarrierError (also evented). */
  async lookup(rawPath: string, client: TreeClient): Promise<TreeEntry> {
    const path = normalizeTreePath(rawPath);
    if (path === undefined) return { kind: 'missing', reason: `${rawPath} climbs out of the boot tree` };
    const url = this.provisionerUrl(client);
    try {
      return (await this.rendered(path, url)) ?? (await this.fileEntry(path));
    } catch (err) {
      if (err instanceof FarrierError && err.code === 'RENDER') {
        this.data.publish({
          time: new Date().toISOString(),
          type: 'render',
          action: 'error',
          key: typeof err.detail?.machine === 'string' ? err.detail.machine : path,
          object: { path, client: plainIpv4(client.address), message: err.message },
        });
      }
      throw err;
    }
  }

  /**
   * What a machine would receive (for `GET /api/v1/machines/{key}/render?path=…` and `farrier render`):
   * `ipxe`, `pxelinux` or `grub` give its loader config; another relative path is taken under
   * `machines/<uuid>/`; a full tree path is looked up as the machine would request it.
   */
  async renderForMachine(uuid: string, rawPath: string, provisionerUrl: string): Promise<TreeEntry> {
    const machine = await this.data.machineByUuid(uuid);
    if (!machine) return { kind: 'missing', reason: `no machine ${uuid}` };
    const path = normalizeTreePath(rawPath);
    if (path === undefined) return { kind: 'missing', reason: `${rawPath} climbs out of the boot tree` };
    if (path === 'ipxe' || path === 'pxelinux' || path === 'grub') return this.renderLoader(machine, path, path, provisionerUrl);
    const full = path.includes('/') || path.endsWith('.ipxe') ? path : `machines/${uuid}/${path}`;
    return (await this.rendered(full, provisionerUrl)) ?? (await this.fileEntry(full));
  }

  /** Steps (1) and (2): rendered entries. Undefined when the path is not a rendered one. */
  private async rendered(path: string, url: string): Promise<TreeEntry | undefined> {
    const name = path.slice(path.lastIndexOf('/') + 1);
    if (path === 'boot.ipxe') return this.renderBuiltin(builtinTemplates.bootIpxe, name, url);
    if (path === 'grub/grub.cfg') return this.renderBuiltin(builtinTemplates.grubChooser, name, url);
    if (defaultEntries[path]) return this.renderUnknown(defaultEntries[path], name, url);

    for (const route of routes) {
      const m = route.re.exec(path);
      if (!m) continue;
      const machine = route.key === 'mac' ? await this.byMac(m[1]) : await this.byHex(m[1]);
      if (machine) return this.renderLoader(machine, route.kind, name, url);
      // An unknown MAC asking iPXE or GRUB gets the unknownBootEnv; pxelinux goes on to ask for `default`.
      if (route.key === 'mac' && route.kind !== 'pxelinux') return this.renderUnknown(route.kind, name, url);
      const file = await this.fileEntry(path);
      if (file.kind !== 'missing') return file;
      return { kind: 'missing', reason: `no machine with ${route.key === 'mac' ? 'MAC' : 'IP'} ${m[1]} (and no such static file)` };
    }

    const mm = MACHINE_PATH.exec(path);
    if (mm) {
      const machine = await this.data.machineByUuid(mm[1]);
      if (!machine) return { kind: 'missing', reason: `no machine ${mm[1]}` };
      return this.renderMachineFile(machine, path, name, url);
    }
    return this.renderUnknownFile(path, name, url);
  }

  private async byMac(text: string): Promise<Machine | undefined> {
    const mac = parseMac(text);
    return mac ? this.data.machineByMac(mac) : undefined;
  }

  private async byHex(hex: string): Promise<Machine | undefined> {
    const address = addressFromHex(hex);
    return address ? this.data.machineByAddress(address) : undefined;
  }

  private async bootEnvOf(machine: Machine | null): Promise<BootEnv> {
    const name = machine ? machine.bootenv : await this.data.unknownBootEnv();
    const bootenv = await this.data.bootEnv(name);
    if (!bootenv) {
      const who = machine ? `machine ${machine.name} (${machine.uuid})` : 'unknown machines';
      throw new FarrierError('RENDER', `cannot render for ${who}: bootenv ${name} does not exist`, [], { machine: machine?.uuid ?? null, bootenv: name });
    }
    return bootenv;
  }

  private async templateSource(bootenv: BootEnv, ref: { name: string; templateId?: string; contents?: string }): Promise<TemplateSource> {
    if (ref.contents !== undefined) return { id: `bootenv/${bootenv.name}/${ref.name}`, contents: ref.contents };
    const id = ref.templateId ?? ref.name;
    const tpl = await this.data.template(id);
    if (!tpl) throw new FarrierError('RENDER', `bootenv ${bootenv.name}: template ${id} does not exist`, [], { bootenv: bootenv.name, template: id });
    return { id, contents: tpl.contents };
  }

  private async buffer(machine: Machine | null, bootenv: BootEnv, source: TemplateSource, name: string, url: string): Promise<TreeEntry> {
    const data = await this.once(machine, `${bootenv.name}\0${source.id}\0${url}`, async () =>
      Buffer.from(await this.renderer.render({ machine, bootenv, template: source, provisionerUrl: url }), 'utf8'),
    );
    const entry: TreeEntry = { kind: 'buffer', data, name };
    if (machine) entry.machine = { uuid: machine.uuid, mac: machine.macs[0] ?? '' };
    return entry;
  }

  /** A loader config: the bootenv's own template of that name if it has one, else the built-in. */
  private async renderLoader(machine: Machine | null, kind: LoaderKind, name: string, url: string): Promise<TreeEntry> {
    const bootenv = await this.bootEnvOf(machine);
    const own = bootenv.templates.find((t) => t.name === kind);
    const source = await this.templateSource(bootenv, own ?? { name: kind, templateId: builtinTemplates[kind] });
    return this.buffer(machine, bootenv, source, name, url);
  }

  private renderUnknown(kind: LoaderKind, name: string, url: string): Promise<TreeEntry> {
    return this.renderLoader(null, kind, name, url);
  }

  private async renderBuiltin(id: string, name: string, url: string): Promise<TreeEntry> {
    const bootenv = await this.bootEnvOf(null);
    return this.buffer(null, bootenv, await this.templateSource(bootenv, { name: id, templateId: id }), name, url);
  }

  private async renderMachineFile(machine: Machine, path: string, name: string, url: string): Promise<TreeEntry> {
    const bootenv = await this.bootEnvOf(machine);
    if (path === configInitrdPath(machine.uuid) && bootenv.configInitrd?.length) {
      const data = await this.once(machine, `${bootenv.name}\0config.cpio\0${url}`, () => this.configInitrd(machine, bootenv, url));
      return { kind: 'buffer', data, name, machine: { uuid: machine.uuid, mac: machine.macs[0] ?? '' } };
    }
    const match = await this.matchTemplate(bootenv, machine, bootenv.templates, path, url);
    if (match) return this.buffer(machine, bootenv, await this.templateSource(bootenv, match), name, url);
    return { kind: 'missing', reason: `bootenv ${bootenv.name} of machine ${machine.name} has no file ${path}` };
  }

  /** Templates of the unknownBootEnv whose path does not depend on a machine are served to everyone. */
  private async renderUnknownFile(path: string, name: string, url: string): Promise<TreeEntry | undefined> {
    // A misconfigured unknownBootEnv must not hide loaders and static files, so no error here.
    const bootenv = await this.data.bootEnv(await this.data.unknownBootEnv());
    if (!bootenv) return undefined;
    const shared = bootenv.templates.filter((t) => !/\bmachine\b/.test(t.path));
    if (shared.length === 0) return undefined;
    const match = await this.matchTemplate(bootenv, null, shared, path, url);
    return match ? this.buffer(null, bootenv, await this.templateSource(bootenv, match), name, url) : undefined;
  }

  private async matchTemplate(bootenv: BootEnv, machine: Machine | null, templates: BootEnv['templates'], path: string, url: string): Promise<BootEnv['templates'][number] | undefined> {
    // Every shipped bootenv names its files `{{machine.path}}/<name>`: those paths are known without
    // rendering (which built a whole context, params included, a second time per request).
    const literal = machine ? templates.map((t) => MACHINE_FILE.exec(t.path)?.[1]) : [];
    if (machine && literal.every((name) => name !== undefined)) {
      const i = literal.findIndex((name) => normalizeTreePath(`machines/${machine.uuid}/${name}`.trim()) === path);
      return i < 0 ? undefined : templates[i];
    }
    const rendered = await this.renderer.renderPaths(bootenv, machine, url, templates.map((t) => ({ id: `bootenv/${bootenv.name}/${t.name}/path`, path: t.path })));
    const i = rendered.findIndex((r) => normalizeTreePath(r) === path);
    return i < 0 ? undefined : templates[i];
  }

  private async configInitrd(machine: Machine, bootenv: BootEnv, url: string): Promise<Buffer> {
    const files = [];
    for (const f of bootenv.configInitrd ?? []) {
      const ref = bootenv.templates.find((t) => t.name === f.template) ?? { name: f.template, templateId: f.template };
      const text = await this.renderer.render({ machine, bootenv, template: await this.templateSource(bootenv, ref), provisionerUrl: url });
      files.push({ path: f.path, data: Buffer.from(text, 'utf8'), mode: f.mode });
    }
    return buildCpio(files);
  }

  /** Steps (3) and (4): packaged loaders by name, then the static root. */
  private async fileEntry(path: string): Promise<TreeEntry> {
    const name = path.slice(path.lastIndexOf('/') + 1);
    const loader = this.loaders.files.get(path);
    if (loader) {
      if (!this.contents) return { kind: 'file', path: loader.path, size: loader.size, name };
      // a package upgrade may replace a loader while we run: serve what is on disk now
      const st = statSync(loader.path, { throwIfNoEntry: false });
      if (!st) return { kind: 'missing', reason: `loader ${path} (${loader.path}) is gone` };
      return this.withContents({ kind: 'file', path: loader.path, size: st.size, name, mtime: st.mtime }, fileVersion(st));
    }
    const found = await this.staticRoot.find(path);
    if (found.kind === 'file') return this.withContents({ kind: 'file', path: found.path, size: found.size, name, mtime: found.mtime }, found.version);
    return found;
  }

  /** The entry with its contents from memory when they are kept; a file changing under the read streams instead. */
  private async withContents(entry: Extract<TreeEntry, { kind: 'file' }>, version: string): Promise<TreeEntry> {
    const data = await this.contents?.get(entry.path, entry.size, version)?.catch(() => undefined);
    return data ? { ...entry, data } : entry;
  }
}
