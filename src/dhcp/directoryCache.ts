/**
 * An in-memory index over the directory source for the per-packet lookups. Every packet needs the subnets,
 * the client's reservation and machine, its bootenv and the prefs; asking the services each time (JSON-path
 * lookups in the store, most of them misses for never-seen MACs) capped the server at ~900 leases/s.
 *
 * Subnets, reservations, bootenvs and prefs are loaded whole and dropped on a change event of their kind.
 * Machines change on every bind (their address), so machine events carrying the object update the index in
 * place; other machine events drop it. Everything is also reloaded after `ttlMs`, a backstop for writes made
 * by another process on the same database, which publish no events here. When the source can tell whether
 * such a write happened (`externalVersion`), an unchanged version extends every entry instead: reloading
 * 100,000 machines blocks the event loop for about 2 s, which every 30 s would stall DHCP for nothing.
 */
import type { BootEnv, FarrierEvent, Machine, Prefs, Reservation, Subnet } from '../model/types.js';
import type { DhcpDirectory, DirectorySource } from './ports.js';

/** The part of the EventBus the cache listens to. */
export interface ChangeFeed {
  subscribe(filter: { type?: string }, fn: (e: FarrierEvent) => void): () => void;
}

interface Loaded<T> {
  at: number;
  value: Promise<T>;
}

interface ReservationIndex {
  byMac: Map<string, Reservation>;
  byAddress: Map<string, Reservation>;
}

interface MachineIndex {
  byMac: Map<string, Machine>;
  macsOf: Map<string, string[]>;
}

const isMachine = (o: unknown): o is Machine =>
  typeof o === 'object' && o !== null && typeof (o as Machine).uuid === 'string' && Array.isArray((o as Machine).macs);

export class CachedDirectory implements DhcpDirectory {
  private subnetList?: Loaded<Subnet[]>;
  private prefsValue?: Loaded<Prefs>;
  private reservationIndex?: Loaded<ReservationIndex>;
  private machineIndex?: Loaded<MachineIndex>;
  private readonly bootenvs = new Map<string, Loaded<BootEnv | undefined>>();
  private readonly unsubscribe: Array<() => void> = [];
  private seenVersion?: Promise<number | undefined>;
  private checkedAt = Date.now();
  private checking?: Promise<void>;

  constructor(
    private readonly source: DirectorySource,
    feed: ChangeFeed | undefined,
    private readonly ttlMs = 30_000,
  ) {
    // Taken before anything is loaded, so a write by another process after this point changes the version.
    this.seenVersion = source.externalVersion?.().catch(() => undefined);
    if (!feed) return;
    this.unsubscribe.push(
      feed.subscribe({ type: 'subnets' }, () => (this.subnetList = undefined)),
      feed.subscribe({ type: 'prefs' }, () => (this.prefsValue = undefined)),
      feed.subscribe({ type: 'reservations' }, () => (this.reservationIndex = undefined)),
      feed.subscribe({ type: 'bootenvs' }, () => this.bootenvs.clear()),
      feed.subscribe({ type: 'machines' }, (e) => this.onMachine(e)),
    );
  }

  close(): void {
    for (const u of this.unsubscribe.splice(0)) u();
  }

  /** Once per `ttlMs`: keep every entry when no other process wrote since the last check, else drop them all. */
  private revalidate(): Promise<void> | undefined {
    const versionOf = this.source.externalVersion?.bind(this.source);
    if (!versionOf || Date.now() - this.checkedAt < this.ttlMs) return this.checking;
    this.checking ??= (async () => {
      const [before, now] = await Promise.all([this.seenVersion, versionOf().catch(() => undefined)]);
      const at = Date.now();
      if (before !== undefined && now === before) {
        for (const l of [this.subnetList, this.prefsValue, this.reservationIndex, this.machineIndex, ...this.bootenvs.values()]) if (l) l.at = at;
      } else {
        this.subnetList = this.prefsValue = this.reservationIndex = this.machineIndex = undefined;
        this.bootenvs.clear();
      }
      this.seenVersion = Promise.resolve(now);
      this.checkedAt = at;
    })().finally(() => (this.checking = undefined));
    return this.checking;
  }

  private fresh<T>(l: Loaded<T> | undefined): l is Loaded<T> {
    return l !== undefined && Date.now() - l.at < this.ttlMs;
  }

  private load<T>(fn: () => Promise<T>, drop: () => void): Loaded<T> {
    const value = fn();
    value.catch(drop);
    return { at: Date.now(), value };
  }

  private onMachine(e: FarrierEvent): void {
    const idx = this.machineIndex;
    if (!idx) return;
    idx.value
      .then((m) => {
        if (this.machineIndex !== idx) return;
        for (const mac of m.macsOf.get(e.key) ?? []) m.byMac.delete(mac);
        m.macsOf.delete(e.key);
        if (e.action === 'delete') return;
        if (!isMachine(e.object)) {
          this.machineIndex = undefined;
          return;
        }
        m.macsOf.set(e.object.uuid, e.object.macs);
        for (const mac of e.object.macs) m.byMac.set(mac, e.object);
      })
      .catch(() => (this.machineIndex = undefined));
  }

  async subnets(): Promise<Subnet[]> {
    await this.revalidate();
    if (!this.fresh(this.subnetList)) this.subnetList = this.load(() => this.source.subnets(), () => (this.subnetList = undefined));
    return this.subnetList.value;
  }

  async prefs(): Promise<Prefs> {
    await this.revalidate();
    if (!this.fresh(this.prefsValue)) this.prefsValue = this.load(() => this.source.prefs(), () => (this.prefsValue = undefined));
    return this.prefsValue.value;
  }

  private async reservations(): Promise<ReservationIndex> {
    await this.revalidate();
    if (!this.fresh(this.reservationIndex)) {
      this.reservationIndex = this.load(
        async () => {
          const list = await this.source.reservations();
          return { byMac: new Map(list.map((r) => [r.mac, r])), byAddress: new Map(list.map((r) => [r.address, r])) };
        },
        () => (this.reservationIndex = undefined),
      );
    }
    return this.reservationIndex.value;
  }

  private async machines(): Promise<MachineIndex> {
    await this.revalidate();
    if (!this.fresh(this.machineIndex)) {
      this.machineIndex = this.load(
        async () => {
          const idx: MachineIndex = { byMac: new Map(), macsOf: new Map() };
          for (const m of await this.source.machines()) {
            idx.macsOf.set(m.uuid, m.macs);
            for (const mac of m.macs) idx.byMac.set(mac, m);
          }
          return idx;
        },
        () => (this.machineIndex = undefined),
      );
    }
    return this.machineIndex.value;
  }

  async reservationByMac(mac: string): Promise<Reservation | undefined> {
    return (await this.reservations()).byMac.get(mac);
  }

  async reservationByAddress(address: string): Promise<Reservation | undefined> {
    return (await this.reservations()).byAddress.get(address);
  }

  async machineByMac(mac: string): Promise<Machine | undefined> {
    return (await this.machines()).byMac.get(mac);
  }

  async bootenv(name: string): Promise<BootEnv | undefined> {
    await this.revalidate();
    let l = this.bootenvs.get(name);
    if (!this.fresh(l)) {
      l = this.load(() => this.source.bootenv(name), () => this.bootenvs.delete(name));
      this.bootenvs.set(name, l);
    }
    return l.value;
  }

  /** Skips the write when the machine is unknown or already shows this address (the common renew case). */
  async setMachineAddress(mac: string, address: string): Promise<void> {
    const m = await this.machineByMac(mac);
    if (!m || m.address === address) return;
    await this.source.setMachineAddress(mac, address);
    if (this.unsubscribe.length === 0) this.machineIndex = undefined;
  }

  async autoRegister(mac: string, arch: 'amd64' | 'arm64'): Promise<Machine | undefined> {
    const m = await this.source.autoRegister(mac, arch);
    if (this.unsubscribe.length === 0) this.machineIndex = undefined;
    return m;
  }
}
