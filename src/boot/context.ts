/**
 * The data a boot template sees (docs/templates.md lists it): the machine, its bootenv, its aggregated
 * params, the provisioner URLs and the boot-tree paths and URLs of the bootenv's kernel and initrds.
 */
import type { BootEnv, Machine } from '../model/types.js';
import { hexAddress, macHyphen } from './address.js';

export interface MachineContext {
  uuid: string;
  name: string;
  macs: string[];
  /** First MAC, lower-case colon form. */
  mac: string;
  /** First MAC as aa-bb-cc-dd-ee-ff. */
  macHyphen: string;
  address: string | null;
  hexAddress: string | null;
  arch: string;
  /** `machines/<uuid>`: the tree directory of its rendered files. */
  path: string;
  /** `<provisionerUrl>/machines/<uuid>`. */
  url: string;
}

/** Where the bootenv's kernel and initrds are in the tree (relative to its root) and over HTTP. */
export interface BootFiles {
  kernelPath: string;
  initrdPaths: string[];
  kernelUrl: string;
  initrdUrls: string[];
  /** Base names of the initrds, for the `initrd=<name>` argument EFI-stub kernels need under iPXE. */
  initrdNames: string[];
}

export interface RenderContext {
  machine?: MachineContext;
  bootenv: BootEnv;
  params: Record<string, unknown>;
  provisionerUrl: string;
  apiUrl: string;
  boot: BootFiles;
  bootParams?: string;
  token?: string;
}

/** `machines/<uuid>/config.cpio`, the per-machine config initrd. */
export const configInitrdPath = (uuid: string): string => `machines/${uuid}/config.cpio`;

/**
 * A bootenv file's path in the tree, without a leading '/': absolute names ('/x/y') are tree paths,
 * others live under the directory its ISO explodes into (`<os.name>/`).
 */
export function bootenvFilePath(bootenv: BootEnv, file: string): string {
  const path = file.startsWith('/') ? file : `${bootenv.os.name}/${file}`;
  return path.replace(/^\/+/, '');
}

export function machineContext(machine: Machine, provisionerUrl: string): MachineContext {
  const mac = machine.macs[0] ?? '';
  return {
    uuid: machine.uuid,
    name: machine.name,
    macs: machine.macs,
    mac,
    macHyphen: macHyphen(mac),
    address: machine.address,
    hexAddress: hexAddress(machine.address),
    arch: machine.arch,
    path: `machines/${machine.uuid}`,
    url: `${provisionerUrl}/machines/${machine.uuid}`,
  };
}

export function bootFiles(bootenv: BootEnv, machine: Machine | null, provisionerUrl: string): BootFiles {
  const initrds = bootenv.initrds.map((f) => bootenvFilePath(bootenv, f));
  if (machine && bootenv.configInitrd?.length) initrds.push(configInitrdPath(machine.uuid));
  const kernel = bootenv.kernel ? bootenvFilePath(bootenv, bootenv.kernel) : '';
  return {
    kernelPath: kernel,
    initrdPaths: initrds,
    kernelUrl: kernel ? `${provisionerUrl}/${kernel}` : '',
    initrdUrls: initrds.map((p) => `${provisionerUrl}/${p}`),
    initrdNames: initrds.map((p) => p.slice(p.lastIndexOf('/') + 1)),
  };
}
