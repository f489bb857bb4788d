/**
 * What the DHCP server needs from the rest of Farrier, declared here so dhcp/ depends on no service or store
 * module. The daemon (composition root) wires these to the real services.
 */
import type { BootEnv, FarrierEvent, Lease, Machine, Prefs, Reservation, Subnet } from '../model/types.js';

/**
 * What the services provide (wired by the daemon). The DHCP server does not call it per packet: a
 * CachedDirectory (directoryCache.ts) keeps an in-memory index over it, refreshed on change events.
 */
export interface DirectorySource {
  subnets(): Promise<Subnet[]>;
  reservations(): Promise<Reservation[]>;
  machines(): Promise<Machine[]>;
  bootenv(name: string): Promise<BootEnv | undefined>;
  prefs(): Promise<Prefs>;
  setMachineAddress(mac: string, address: string): Promise<void>;
  autoRegister(mac: string, arch: 'amd64' | 'arm64'): Promise<Machine | undefined>;
  /** Changes when another process wrote the data behind this source; without it the cache reloads by age. */
  externalVersion?(): Promise<number>;
}

/** The lookups the server makes per packet. */
export interface DhcpDirectory {
  subnets(): Promise<Subnet[]>;
  reservationByMac(mac: string): Promise<Reservation | undefined>;
  reservationByAddress(address: string): Promise<Reservation | undefined>;
  machineByMac(mac: string): Promise<Machine | undefined>;
  bootenv(name: string): Promise<BootEnv | undefined>;
  prefs(): Promise<Prefs>;
  /**
   * Record that `mac`'s machine now holds `address`. The implementation must clear `address` from any other
   * machine in the same write, so two machines never show one address.
   */
  setMachineAddress(mac: string, address: string): Promise<void>;
  /** Create a machine for a PXE client seen for the first time (pref `autoRegister`). */
  autoRegister(mac: string, arch: 'amd64' | 'arm64'): Promise<Machine | undefined>;
}

export interface EventSink {
  publish(e: FarrierEvent): void;
}

/** The subset of pino's Logger the server uses. */
export interface Log {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Plain counters map (`in_discover`, `out_offer`, `dropped_malformed`, `pool_exhausted` …). */
export type Counters = Map<string, number>;

export function bump(c: Counters, name: string, by = 1): void {
  c.set(name, (c.get(name) ?? 0) + by);
}

/** What the lease engine answers; implemented by src/core/leaseEngine.ts over the Store. */
export interface LeasePort {
  /** An address to offer (held as `offered`), or undefined when the pool is exhausted. */
  offer(req: LeaseRequest): Promise<Lease | undefined>;
  /** Bind `address` for the MAC; false when it is not theirs to have (caller NAKs). */
  bind(req: LeaseRequest & { address: string }): Promise<Lease | undefined>;
  /** The live lease this MAC holds on `address`, if any. */
  held(mac: string, address: string): Promise<Lease | undefined>;
  /** Who holds `address` now (a live row), if anyone. */
  holder(address: string): Promise<Lease | undefined>;
  release(mac: string, address: string): Promise<void>;
  decline(mac: string, address: string): Promise<void>;
  /** Drop an `offered` hold (the client chose another server). */
  forgetOffer(mac: string): Promise<void>;
}

export interface LeaseRequest {
  mac: string;
  subnet: Subnet;
  reservation?: Reservation;
  requested?: string;
  hostname: string | null;
  clientId: string | null;
}
