/**
 * What the boot layer needs from the rest of Farrier, declared here so boot/ never imports the store or the
 * services directly (src/boot/coreAdapter.ts binds it to core/). Every lookup is keyed, never a scan, so a
 * TFTP or HTTP request costs a few indexed reads.
 */
import type { BootEnv, FarrierEvent, Machine, Template } from '../model/types.js';

/** A machine's parameters after aggregation (machine → profiles → global → schema default). */
export interface AggregatedParams {
  values: Record<string, unknown>;
  /** Names of the params declared `secure: true`. */
  secure: string[];
}

export interface BootData {
  machineByMac(mac: string): Promise<Machine | undefined>;
  machineByAddress(address: string): Promise<Machine | undefined>;
  machineByUuid(uuid: string): Promise<Machine | undefined>;
  bootEnv(name: string): Promise<BootEnv | undefined>;
  /** Stored and read-only (repo) templates alike. */
  template(id: string): Promise<Template | undefined>;
  /** Aggregated params of a machine; for `null` (an unknown machine) the global view. */
  params(machine: Machine | null): Promise<AggregatedParams>;
  /** Name of the bootenv whose default entries unknown machines receive. */
  unknownBootEnv(): Promise<string>;
  /** A token scoped to this machine (read itself, set its bootenv/params, post events). */
  mintMachineToken(machine: Machine): Promise<string>;
  publish(event: FarrierEvent): void;
}

/** Static facts about how machines reach us. */
export interface BootSettings {
  httpPort: number;
  /** Address advertised to machines; when null the address the client reached (or faces it) is used. */
  staticIp: string | null;
}
