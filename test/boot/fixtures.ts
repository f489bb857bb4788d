/**
 * An in-memory BootData over the repo's shipped content (templates/*.hbs, bootenvs/*.yaml, param
 * definitions), so boot tests render the real shipped files. Machines and global params are given by each test.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import type { AggregatedParams, BootData } from '../../src/boot/ports.js';
import type { BootEnv, FarrierEvent, Machine, Template } from '../../src/model/types.js';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const stamp = { createdAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-01T00:00:00.000Z', version: 1 };

export function shippedTemplates(): Map<string, Template> {
  const out = new Map<string, Template>();
  for (const f of readdirSync(join(repoRoot, 'templates')).filter((n) => n.endsWith('.hbs'))) {
    const id = basename(f, '.hbs');
    out.set(id, { id, contents: readFileSync(join(repoRoot, 'templates', f), 'utf8'), description: '', readOnly: true, ...stamp });
  }
  return out;
}

export function bootEnvFrom(doc: Record<string, unknown>): BootEnv {
  return {
    description: '',
    kernel: '',
    initrds: [],
    bootParams: '',
    templates: [],
    requiredParams: [],
    optionalParams: [],
    onlyUnknown: false,
    available: true,
    errors: [],
    readOnly: true,
    ...stamp,
    ...(doc as Partial<BootEnv>),
    os: (doc.os as BootEnv['os']) ?? { name: String(doc.name) },
    name: String(doc.name),
  };
}

export function shippedBootEnvs(): Map<string, BootEnv> {
  const out = new Map<string, BootEnv>();
  // ignore and local as the foundation ships them (overridden below when their files exist).
  out.set('ignore', bootEnvFrom({ name: 'ignore', onlyUnknown: true }));
  out.set('local', bootEnvFrom({ name: 'local' }));
  for (const f of readdirSync(join(repoRoot, 'bootenvs')).filter((n) => /\.ya?ml$/.test(n))) {
    const doc = parse(readFileSync(join(repoRoot, 'bootenvs', f), 'utf8')) as Record<string, unknown>;
    out.set(String(doc.name), bootEnvFrom(doc));
  }
  return out;
}

export interface ParamDef {
  name: string;
  secure?: boolean;
  schema: { default?: unknown };
}

export const shippedParams = (): ParamDef[] =>
  parse(readFileSync(join(repoRoot, 'bootenvs/params/params.yaml'), 'utf8')) as ParamDef[];

export function machine(over: Partial<Machine> = {}): Machine {
  return {
    uuid: '3f2a6c1e-0b5d-4e8f-9a7b-1c2d3e4f5a6b',
    name: 'node1.lab',
    macs: ['52:54:00:12:34:56'],
    address: '10.77.0.50',
    arch: 'amd64',
    bootenv: 'local',
    profiles: [],
    params: {},
    description: '',
    available: true,
    errors: [],
    ...stamp,
    ...over,
  };
}

export class MemoryBootData implements BootData {
  machines: Machine[] = [];
  bootenvs = shippedBootEnvs();
  templates = shippedTemplates();
  paramDefs = shippedParams();
  global: Record<string, unknown> = {};
  unknown = 'ignore';
  events: FarrierEvent[] = [];
  tokensMinted = 0;

  async machineByMac(mac: string): Promise<Machine | undefined> {
    return this.machines.find((m) => m.macs.includes(mac));
  }
  async machineByAddress(address: string): Promise<Machine | undefined> {
    return this.machines.find((m) => m.address === address);
  }
  async machineByUuid(uuid: string): Promise<Machine | undefined> {
    return this.machines.find((m) => m.uuid === uuid);
  }
  async bootEnv(name: string): Promise<BootEnv | undefined> {
    return this.bootenvs.get(name);
  }
  async template(id: string): Promise<Template | undefined> {
    return this.templates.get(id);
  }
  async params(m: Machine | null): Promise<AggregatedParams> {
    const values: Record<string, unknown> = {};
    for (const d of this.paramDefs) if (d.schema.default !== undefined) values[d.name] = d.schema.default;
    Object.assign(values, this.global, m?.params ?? {});
    return { values, secure: this.paramDefs.filter((d) => d.secure).map((d) => d.name) };
  }
  async unknownBootEnv(): Promise<string> {
    return this.unknown;
  }
  async mintMachineToken(m: Machine): Promise<string> {
    this.tokensMinted += 1;
    return `tok-${m.uuid.slice(0, 8)}`;
  }
  publish(e: FarrierEvent): void {
    this.events.push(e);
  }
  addTemplate(id: string, contents: string): void {
    this.templates.set(id, { id, contents, description: '', readOnly: false, ...stamp });
  }
}
