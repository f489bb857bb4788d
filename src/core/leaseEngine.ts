/**
 * DHCP lease policy over the Store: which address a client gets, holds, binds, releases and declines.
 * Every decision is written to the store (one transaction, durable) before the caller sends its reply, so a
 * crash never loses an address that a client was told it has.
 *
 * Address choice on DISCOVER: reservation → the MAC's current lease → the requested address (option 50) if
 * free → the next never-leased address after a per-subnet cursor (store.firstUnleased: an index query, never
 * a scan of the pool) → the reclaimable lease that expired first. Nothing found = pool exhausted.
 */
import type { Lease, Reservation, Subnet } from '../model/types.js';
import type { Store } from '../store/store.js';
import type { LeasePort, LeaseRequest } from '../dhcp/ports.js';
import { cidrContains, intToIp, ipToInt, parseCidr } from '../dhcp/ipv4.js';

export interface LeaseEngineOptions {
  /** How long an OFFER holds its address for the client's REQUEST. */
  offerHoldSeconds?: number;
  /** How long a DECLINEd address stays out of the pool. */
  declineQuarantineSeconds?: number;
  now?: () => Date;
  /**
   * Reservation lookup by address (default: a store query). The daemon passes the DHCP directory's cached
   * lookup, which is invalidated on reservation changes, to keep allocation off the JSON-path scan.
   */
  reservationByAddress?: (address: string) => Promise<Reservation | undefined>;
}

/** Candidates skipped (reserved for someone else, or taken concurrently) before declaring the pool exhausted. */
const MAX_CANDIDATES = 64;

const isLive = (l: Lease, now: Date): boolean =>
  (l.state === 'offered' || l.state === 'bound') && Date.parse(l.expiresAt) > now.getTime();

export class LeaseEngine implements LeasePort {
  private readonly hold: number;
  private readonly quarantine: number;
  private readonly now: () => Date;
  private readonly reservationAt: (address: string) => Promise<Reservation | undefined>;
  /** Per subnet: where the next-free search starts, so allocation walks the pool instead of re-probing its head. */
  private readonly cursors = new Map<string, number>();
  /** Addresses picked by nextFree whose claim has not committed yet. */
  private readonly pending = new Set<number>();
  private picking: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: Store,
    opts: LeaseEngineOptions = {},
  ) {
    this.hold = opts.offerHoldSeconds ?? 60;
    this.quarantine = opts.declineQuarantineSeconds ?? 600;
    this.now = opts.now ?? (() => new Date());
    this.reservationAt = opts.reservationByAddress ?? ((address) => this.store.findOne<Reservation>('reservations', [{ path: ['address'], value: address }]));
  }

  private row(req: LeaseRequest, address: string, state: Lease['state'], seconds: number, now: Date): Lease {
    return {
      address,
      mac: req.mac,
      state,
      expiresAt: new Date(now.getTime() + seconds * 1000).toISOString(),
      subnet: req.subnet.name,
      hostname: req.hostname,
      clientId: req.clientId,
      updatedAt: now.toISOString(),
    };
  }

  private async reservedForOther(address: string, mac: string): Promise<boolean> {
    const r = await this.reservationAt(address);
    return r !== undefined && r.mac !== mac;
  }

  private inPool(subnet: Subnet, address: string): boolean {
    const n = ipToInt(address);
    return n >= ipToInt(subnet.activeStart) && n <= ipToInt(subnet.activeEnd);
  }

  /** Whether `address` may be given to this client at all (its reservation, or a free pool address). */
  private async allowed(req: LeaseRequest, address: string): Promise<boolean> {
    if (req.reservation) return req.reservation.address === address;
    if (req.subnet.onlyReservations || !this.inPool(req.subnet, address)) return false;
    return !(await this.reservedForOther(address, req.mac));
  }

  private async tryHold(req: LeaseRequest, address: string, now: Date): Promise<Lease | undefined> {
    const lease = this.row(req, address, 'offered', this.hold, now);
    return (await this.store.claimLease(lease, now)) ? lease : undefined;
  }

  async offer(req: LeaseRequest): Promise<Lease | undefined> {
    const now = this.now();
    const mine = await this.store.getLeaseByMac(req.mac);
    if (req.reservation) {
      if (mine && mine.address === req.reservation.address && mine.state === 'bound' && isLive(mine, now)) return mine;
      return this.tryHold(req, req.reservation.address, now);
    }
    if (req.subnet.onlyReservations) return undefined;
    if (mine && mine.state !== 'declined' && (await this.allowed(req, mine.address))) {
      if (mine.state === 'bound' && isLive(mine, now)) return mine;
      const held = await this.tryHold(req, mine.address, now);
      if (held) return held;
    }
    if (req.requested && req.requested !== mine?.address && (await this.allowedQuiet(req, req.requested))) {
      const held = await this.tryHold(req, req.requested, now);
      if (held) return held;
    }
    return (await this.nextFree(req, now)) ?? (await this.reclaim(req, now));
  }

  private async allowedQuiet(req: LeaseRequest, address: string): Promise<boolean> {
    try {
      return await this.allowed(req, address);
    } catch {
      return false; // a malformed option 50 is simply not honoured
    }
  }

  /**
   * The next never-leased address after the subnet's cursor. Picks are serialised and remembered until their
   * claim commits: the store only sees committed rows, so without this, concurrent DISCOVERs (group commit
   * holds writes until the end of the tick) would all pick the same address and all but one fail their claim.
   */
  private pick(subnet: Subnet, start: number, end: number): Promise<number | undefined> {
    const run = this.picking.then(async () => {
      let from = this.cursors.get(subnet.name) ?? start;
      if (from < start || from > end) from = start;
      for (let i = 0; i < MAX_CANDIDATES; i++) {
        let cand = await this.store.firstUnleased(from, end);
        if (cand === undefined && from > start) cand = await this.store.firstUnleased(start, from - 1);
        if (cand === undefined) return undefined;
        from = cand + 1 > end ? start : cand + 1;
        if (this.pending.has(cand)) continue;
        this.cursors.set(subnet.name, from);
        this.pending.add(cand);
        return cand;
      }
      return undefined;
    });
    this.picking = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private async nextFree(req: LeaseRequest, now: Date): Promise<Lease | undefined> {
    const start = ipToInt(req.subnet.activeStart);
    const end = ipToInt(req.subnet.activeEnd);
    for (let i = 0; i < MAX_CANDIDATES; i++) {
      const cand = await this.pick(req.subnet, start, end);
      if (cand === undefined) return undefined;
      try {
        const address = intToIp(cand);
        if (await this.reservedForOther(address, req.mac)) continue;
        const held = await this.tryHold(req, address, now);
        if (held) return held;
      } finally {
        this.pending.delete(cand);
      }
    }
    return undefined;
  }

  private async reclaim(req: LeaseRequest, now: Date): Promise<Lease | undefined> {
    const start = ipToInt(req.subnet.activeStart);
    const end = ipToInt(req.subnet.activeEnd);
    for (let i = 0; i < MAX_CANDIDATES; i++) {
      const old = await this.store.oldestReclaimable(start, end, now);
      if (!old) return undefined;
      if (await this.reservedForOther(old.address, req.mac)) {
        // Park it for a quarantine period so the next search moves past it.
        await this.store.putLease({ ...old, state: 'declined', expiresAt: new Date(now.getTime() + this.quarantine * 1000).toISOString() });
        continue;
      }
      const held = await this.tryHold(req, old.address, now);
      if (held) return held;
    }
    return undefined;
  }

  async bind(req: LeaseRequest & { address: string }): Promise<Lease | undefined> {
    const now = this.now();
    if (!cidrContains(parseCidr(req.subnet.cidr), req.address)) return undefined;
    if (!(await this.allowed(req, req.address))) return undefined;
    const seconds = req.reservation ? req.subnet.reservedLeaseTime || req.subnet.leaseTime : req.subnet.leaseTime;
    const lease = this.row(req, req.address, 'bound', seconds, now);
    return (await this.store.claimLease(lease, now)) ? lease : undefined;
  }

  async held(mac: string, address: string): Promise<Lease | undefined> {
    const l = await this.store.getLease(address);
    return l && l.mac === mac && isLive(l, this.now()) ? l : undefined;
  }

  async holder(address: string): Promise<Lease | undefined> {
    const l = await this.store.getLease(address);
    return l && isLive(l, this.now()) ? l : undefined;
  }

  async release(mac: string, address: string): Promise<void> {
    const l = await this.store.getLease(address);
    if (!l || l.mac !== mac || l.state === 'declined') return;
    const now = this.now().toISOString();
    await this.store.putLease({ ...l, state: 'released', expiresAt: now, updatedAt: now });
  }

  async decline(mac: string, address: string): Promise<void> {
    const l = await this.store.getLease(address);
    if (!l || l.mac !== mac) return;
    const now = this.now();
    // The row is disowned (mac ''): the store drops a MAC's other rows when it claims a new address, and the
    // quarantine must outlive the decliner moving on to another address.
    await this.store.putLease({
      ...l,
      mac: '',
      state: 'declined',
      expiresAt: new Date(now.getTime() + this.quarantine * 1000).toISOString(),
      updatedAt: now.toISOString(),
    });
  }

  async forgetOffer(mac: string): Promise<void> {
    const l = await this.store.getLeaseByMac(mac);
    if (l && l.state === 'offered') await this.store.deleteLease(l.address);
  }

  /** Periodic expiry (lazy expiry covers the time between sweeps). Returns a stop function. */
  startSweep(intervalMs: number, onError: (err: unknown) => void): () => void {
    const timer = setInterval(() => {
      this.store.sweepLeases(this.now()).catch(onError);
    }, intervalMs);
    timer.unref();
    return () => clearInterval(timer);
  }
}
