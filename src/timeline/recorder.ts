/**
 * The boot timeline recorder: turns the bus's boot events (DHCP decisions, TFTP and HTTP transfers, render
 * errors) and machine changes (bootenv changes, callbacks a machine posts) into per-machine timeline entries,
 * stored in batches (one store write per flush, pruned to the newest `keep` per machine in the same
 * transaction), then republished as `timeline` events (key = machine uuid) for `machines timeline --follow`.
 * TFTP carries no machine identity, so a transfer is attributed by its client address to the machine
 * holding that address (set when its lease was bound).
 */
import type { Logger } from 'pino';
import type { EventBus } from '../events/bus.js';
import type { FarrierEvent, Machine, TimelineEntry } from '../model/types.js';
import type { Store } from '../store/store.js';

export interface TimelineOptions {
  store: Store;
  bus: EventBus;
  logger: Logger;
  /** Entries kept per machine (default 500). */
  keep?: number;
  /** How long entries wait to be written together (default 100 ms). */
  flushMs?: number;
}

export const TIMELINE_KEEP = 500;

const rec = (o: unknown): Record<string, unknown> => (o && typeof o === 'object' ? { ...(o as Record<string, unknown>) } : {});
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

export class TimelineRecorder {
  private pending: TimelineEntry[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  /** Entries still being attributed (address lookups) — close() waits for them. */
  private readonly lookups = new Set<Promise<void>>();
  private readonly bootenvs = new Map<string, string>();
  /**
   * Who holds each address, so a transfer is attributed without a store query: in a boot storm every machine
   * fetches its loader, kernel and initrd by address, and each lookup was a query on the event loop. Filled
   * from the machine list at start and kept current by every machine event since (the bus delivers them in
   * order, before the transfers that follow them); an address not here is still looked up in the store.
   */
  private readonly holders = new Map<string, { uuid: string; mac: string | null }>();
  private readonly addressOf = new Map<string, string>();
  /** Machines an event has told us about: the start-up list must not overwrite what they said. */
  private readonly seen = new Set<string>();
  private readonly unsubscribe: Array<() => void> = [];
  private readonly keep: number;
  private readonly flushMs: number;

  /** Listens from construction on, so nothing published after the daemon starts is missed. */
  constructor(private readonly o: TimelineOptions) {
    this.keep = o.keep ?? TIMELINE_KEEP;
    this.flushMs = o.flushMs ?? 100;
    // One subscription for every type: its queue keeps publish order across types, so a machine event (an
    // address moving) is seen before the transfers published after it.
    const handlers: Record<string, (e: FarrierEvent) => void> = {
      dhcp: (e) => this.dhcp(e),
      tftp: (e) => this.tftp(e),
      http: (e) => this.http(e),
      render: (e) => this.render(e),
      machines: (e) => this.machine(e),
    };
    this.unsubscribe.push(this.o.bus.subscribe({}, (e) => handlers[e.type]?.(e), { maxQueue: 50_000 }));
    // Current bootenvs, so the first change after a restart is recorded; a change seen meanwhile wins.
    const known = o.store.list<Machine>('machines').then((r) => {
      for (const m of r.items) {
        if (!this.bootenvs.has(m.uuid)) this.bootenvs.set(m.uuid, m.bootenv);
        if (!this.seen.has(m.uuid)) this.hold(m.uuid, m.address, m.macs[0] ?? null);
      }
    });
    this.track(known.catch((err: unknown) => o.logger.error({ err }, 'timeline: reading machines failed')));
  }

  private track(p: Promise<void>): void {
    const tracked = p.finally(() => this.lookups.delete(tracked));
    this.lookups.add(tracked);
  }

  /** Stops listening and writes what is pending (call before the store closes). */
  async close(): Promise<void> {
    // The bus delivers on the next turn: let the events published so far arrive first.
    await new Promise((resolve) => setImmediate(resolve));
    for (const u of this.unsubscribe) u();
    await Promise.all([...this.lookups]);
    clearTimeout(this.timer);
    await this.flush();
  }

  private dhcp(e: FarrierEvent): void {
    const d = rec(e.object);
    const phase = e.action;
    const summary =
      phase === 'nak'
        ? `DHCP NAK${str(d.reason) ? `: ${String(d.reason)}` : ''}`
        : `DHCP ${phase}: ${String(d.decision ?? '')}${str(d.file) ? ` → ${String(d.file)}` : ''}`;
    this.add({ time: e.time, machine: e.key, kind: 'dhcp', summary, detail: d });
  }

  private tftp(e: FarrierEvent): void {
    const d = rec(e.object);
    const summary = `TFTP ${String(d.path ?? d.file)}: ${e.action}, ${String(d.bytes ?? 0)} bytes in ${String(d.durationMs ?? '?')} ms${str(d.error) ? ` (${String(d.error)})` : ''}`;
    this.byAddress(str(d.client), { time: e.time, kind: 'tftp', summary, detail: { outcome: e.action, ...d } });
  }

  private http(e: FarrierEvent): void {
    const d = rec(e.object);
    const path = String(d.path);
    const summary = `HTTP ${e.action.toUpperCase()} ${path.startsWith('/') ? path : `/${path}`}: ${String(d.status)}, ${String(d.bytes ?? 0)} bytes${typeof d.durationMs === 'number' ? ` in ${d.durationMs} ms` : ''}`;
    const entry = { time: e.time, kind: 'http', summary, detail: d };
    const uuid = str(d.uuid);
    if (uuid) this.add({ ...entry, machine: uuid });
    else this.byAddress(str(d.client), entry);
  }

  private render(e: FarrierEvent): void {
    const d = rec(e.object);
    const entry = { time: e.time, kind: 'render', summary: `render error in ${String(d.path)}: ${String(d.message)}`, detail: d };
    if (this.bootenvs.has(e.key)) this.add({ ...entry, machine: e.key });
    else this.byAddress(str(d.client), entry);
  }

  /** Records that `uuid` holds `address` now (null: none), dropping what it held before. */
  private hold(uuid: string, address: string | null | undefined, mac: string | null): void {
    const before = this.addressOf.get(uuid);
    if (before !== undefined && this.holders.get(before)?.uuid === uuid) this.holders.delete(before);
    this.addressOf.delete(uuid);
    if (!address) return;
    this.holders.set(address, { uuid, mac });
    this.addressOf.set(uuid, address);
  }

  private machine(e: FarrierEvent): void {
    const m = rec(e.object);
    if (e.action === 'delete' || e.action === 'create' || e.action === 'update') {
      this.seen.add(e.key);
      const macs = Array.isArray(m.macs) ? m.macs : [];
      this.hold(e.key, e.action === 'delete' ? null : str(m.address), str(macs[0]) ?? null);
    }
    if (e.action === 'delete') {
      this.bootenvs.delete(e.key);
      this.pending = this.pending.filter((p) => p.machine !== e.key);
      this.o.store.deleteTimeline(e.key).catch((err: unknown) => this.o.logger.error({ err, uuid: e.key }, 'timeline: delete failed'));
      return;
    }
    if (e.action === 'create' || e.action === 'update') {
      const bootenv = str(m.bootenv);
      if (!bootenv) return;
      const before = this.bootenvs.get(e.key);
      this.bootenvs.set(e.key, bootenv);
      if (before !== bootenv) {
        const summary = before === undefined ? `created with bootenv ${bootenv}` : `bootenv ${before} → ${bootenv}`;
        this.add({ time: e.time, machine: e.key, kind: 'bootenv', summary, detail: { from: before ?? null, to: bootenv } });
      }
      return;
    }
    // Anything else about a machine was posted to POST /api/v1/events: a callback from its installer.
    this.add({ time: e.time, machine: e.key, kind: 'callback', summary: `callback: ${e.action}`, detail: m });
  }

  private byAddress(address: string | undefined, entry: Omit<TimelineEntry, 'machine'>): void {
    if (!address) return;
    const known = this.holders.get(address);
    if (known) {
      this.add({ ...entry, machine: known.uuid, detail: { ...entry.detail, mac: entry.detail.mac ?? known.mac } });
      return;
    }
    this.track(
      this.o.store
        .findOne<Machine>('machines', [{ path: ['address'], value: address }])
        .then((m) => {
          if (m) this.add({ ...entry, machine: m.uuid, detail: { ...entry.detail, mac: entry.detail.mac ?? m.macs[0] ?? null } });
        })
        .catch((err: unknown) => this.o.logger.error({ err, address }, 'timeline: machine lookup failed')),
    );
  }

  private add(entry: TimelineEntry): void {
    this.pending.push(entry);
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, this.flushMs);
  }

  private flush(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      const batch = this.pending;
      this.pending = [];
      if (batch.length === 0) return;
      try {
        await this.o.store.appendTimeline(batch, this.keep);
        for (const entry of batch) this.o.bus.publish({ time: entry.time, type: 'timeline', action: entry.kind, key: entry.machine, object: entry });
      } catch (err) {
        this.o.logger.error({ err, entries: batch.length }, 'timeline: write failed');
      }
    });
    return this.flushing;
  }
}
