/**
 * An in-memory layer over the boot layer's data port. Rendering one kickstart read the machine, its
 * bootenv, three templates, two profiles and every param definition from SQLite, twice (once to find which
 * template the path names, once to render it): about half of the CPU a rendered boot file cost.
 *
 * Invalidation is synchronous: the change feed calls us inside the publish of every acknowledged write,
 * so the very next request renders from the new data (a queued subscriber could run after that request).
 * A machine event drops the machine indexes and that machine's params; any bootenv, template, param,
 * profile or prefs event drops everything, since each of those can change every machine's files. Entries
 * also expire after `ttlMs`, a backstop for what publishes no event: writes by another process on the same
 * database, and bootenv availability, which follows files on disk.
 */
import type { FarrierEvent, Machine } from '../model/types.js';
import type { AggregatedParams, BootData } from './ports.js';

/** Synchronous change notifications (EventBus.observe). */
export interface ChangeObserver {
  observe(fn: (e: FarrierEvent) => void): () => void;
}

interface Entry<T> {
  at: number;
  value: Promise<T>;
}

/** Event types whose objects feed every machine's render. */
export const GLOBAL_TYPES = new Set(['bootenvs', 'templates', 'params', 'profiles', 'prefs']);

class Memo<T> {
  private readonly entries = new Map<string, Entry<T>>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
  ) {}

  get(key: string, load: () => Promise<T>): Promise<T> {
    const now = Date.now();
    const hit = this.entries.get(key);
    if (hit && now - hit.at < this.ttlMs) return hit.value;
    const value = load();
    const entry = { at: now, value };
    if (this.entries.size >= this.maxEntries) this.entries.clear();
    this.entries.set(key, entry);
    // A failed load is not remembered; a later entry (after an invalidation) is left alone.
    value.catch(() => {
      if (this.entries.get(key) === entry) this.entries.delete(key);
    });
    return value;
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }
}

export class CachedBootData implements BootData {
  private readonly byUuid: Memo<Machine | undefined>;
  private readonly byMac: Memo<Machine | undefined>;
  private readonly byAddress: Memo<Machine | undefined>;
  private readonly aggregated: Memo<AggregatedParams>;
  private readonly bootenvs: Memo<Awaited<ReturnType<BootData['bootEnv']>>>;
  private readonly templates: Memo<Awaited<ReturnType<BootData['template']>>>;
  private readonly prefs: Memo<string>;
  /** Tokens by machine, for the current second only: a token minted again within it is byte-identical. */
  private readonly tokens = new Map<string, { second: number; token: Promise<string> }>();
  private readonly stop: () => void;

  constructor(
    private readonly source: BootData,
    changes: ChangeObserver,
    opts: { ttlMs?: number; maxEntries?: number } = {},
  ) {
    const ttl = opts.ttlMs ?? 10_000;
    const max = opts.maxEntries ?? 100_000;
    this.byUuid = new Memo(ttl, max);
    this.byMac = new Memo(ttl, max);
    this.byAddress = new Memo(ttl, max);
    this.aggregated = new Memo(ttl, max);
    this.bootenvs = new Memo(ttl, max);
    this.templates = new Memo(ttl, max);
    this.prefs = new Memo(ttl, 1);
    this.stop = changes.observe((e) => this.onChange(e));
  }

  close(): void {
    this.stop();
  }

  private onChange(e: FarrierEvent): void {
    if (e.type === 'machines') {
      // MACs and addresses move between machines (a DHCP bind takes the address from another record), so
      // the indexes go whole; the params of other machines stay.
      this.byUuid.clear();
      this.byMac.clear();
      this.byAddress.clear();
      this.aggregated.delete(e.key);
      // Rotating the machine's token secret is a machine update: its tokens must change at once.
      this.tokens.delete(e.key);
    } else if (GLOBAL_TYPES.has(e.type)) {
      for (const m of [this.byUuid, this.byMac, this.byAddress, this.aggregated, this.bootenvs, this.templates, this.prefs]) m.clear();
    }
  }

  machineByMac(mac: string): Promise<Machine | undefined> {
    return this.byMac.get(mac, () => this.source.machineByMac(mac));
  }

  machineByAddress(address: string): Promise<Machine | undefined> {
    return this.byAddress.get(address, () => this.source.machineByAddress(address));
  }

  machineByUuid(uuid: string): Promise<Machine | undefined> {
    return this.byUuid.get(uuid, () => this.source.machineByUuid(uuid));
  }

  bootEnv(name: string): ReturnType<BootData['bootEnv']> {
    return this.bootenvs.get(name, () => this.source.bootEnv(name));
  }

  template(id: string): ReturnType<BootData['template']> {
    return this.templates.get(id, () => this.source.template(id));
  }

  /** Keyed by uuid: a machine event for it drops the entry (its own params or profiles changed). */
  params(machine: Machine | null): Promise<AggregatedParams> {
    return this.aggregated.get(machine ? machine.uuid : '', () => this.source.params(machine));
  }

  unknownBootEnv(): Promise<string> {
    return this.prefs.get('unknownBootEnv', () => this.source.unknownBootEnv());
  }

  /**
   * A token's claims are the machine, its secret's fingerprint and an expiry in whole seconds, so a file
   * fetched twice in one second carries the same token either way; minting read the machine's secret from
   * the store and hashed twice, on every rendered file.
   */
  mintMachineToken(machine: Machine): Promise<string> {
    const second = Math.floor(Date.now() / 1000);
    const hit = this.tokens.get(machine.uuid);
    if (hit && hit.second === second) return hit.token;
    if (this.tokens.size >= 10_000) this.tokens.clear();
    const token = this.source.mintMachineToken(machine);
    const entry = { second, token };
    this.tokens.set(machine.uuid, entry);
    token.catch(() => {
      if (this.tokens.get(machine.uuid) === entry) this.tokens.delete(machine.uuid);
    });
    return token;
  }

  publish(event: FarrierEvent): void {
    this.source.publish(event);
  }
}
