/**
 * DHCP lease rows, keyed by the address as a 32-bit integer so pool searches are index range scans.
 * `expires_at` is epoch milliseconds so liveness checks compare integers. Writes must run inside the write
 * queue's transaction.
 */
import { FarrierError } from '../../errors.js';
import type { Lease, LeaseState } from '../../model/types.js';
import type { ListQuery, ListResult } from '../store.js';
import { checkPaging, sqlValue, type SqlValue } from './jsonPath.js';
import type { Statements } from './statements.js';

interface LeaseRow {
  address: string;
  mac: string;
  state: LeaseState;
  expires_at: number;
  subnet: string;
  hostname: string | null;
  client_id: string | null;
  updated_at: string;
}

const COLUMNS = 'address, mac, state, expires_at, subnet, hostname, client_id, updated_at';

/** Lease fields listLeases can filter on, and their columns. */
const FILTER_COLUMNS: Record<string, string> = {
  address: 'address',
  mac: 'mac',
  state: 'state',
  subnet: 'subnet',
  hostname: 'hostname',
  clientId: 'client_id',
};

/** Lease fields listLeases can sort on; addresses sort numerically. */
const SORT_COLUMNS: Record<string, string> = {
  address: 'addr',
  mac: 'mac',
  state: 'state',
  subnet: 'subnet',
  hostname: 'hostname',
  clientId: 'client_id',
  expiresAt: 'expires_at',
  updatedAt: 'updated_at',
};

/** Addresses per `lease_blocks` row (a /24). */
const BLOCK = 256;

/** States that never hold an address, whatever their expiry says. */
const DEAD_STATES: readonly LeaseState[] = ['expired', 'released'];

export function ipv4ToInt(address: string): number {
  const parts = address.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^(0|[1-9]\d{0,2})$/.test(p) || Number(p) > 255)) {
    throw new FarrierError('VALIDATION', `${JSON.stringify(address)} is not an IPv4 address`, [
      { field: 'address', message: 'must be a dotted-quad IPv4 address' },
    ]);
  }
  return parts.reduce((n, p) => n * 256 + Number(p), 0);
}

function expiryMs(lease: Lease): number {
  const ms = Date.parse(lease.expiresAt);
  if (Number.isNaN(ms)) {
    throw new FarrierError('VALIDATION', `lease ${lease.address}: expiresAt ${JSON.stringify(lease.expiresAt)} is not a date`, [
      { field: 'expiresAt', message: 'must be an ISO 8601 date' },
    ]);
  }
  return ms;
}

function toLease(row: LeaseRow): Lease {
  return {
    address: row.address,
    mac: row.mac,
    state: row.state,
    expiresAt: new Date(row.expires_at).toISOString(),
    subnet: row.subnet,
    hostname: row.hostname,
    clientId: row.client_id,
    updatedAt: row.updated_at,
  };
}

function columnFor(map: Record<string, string>, path: string[], use: string): string {
  const column = path.length === 1 ? map[path[0]] : undefined;
  if (column === undefined) {
    throw new FarrierError('BAD_REQUEST', `leases cannot be ${use} by ${path.join('.')}; use one of: ${Object.keys(map).join(', ')}`);
  }
  return column;
}

export class Leases {
  constructor(private readonly stmts: Statements) {}

  get(address: string): Lease | undefined {
    const row = this.stmts.get(`SELECT ${COLUMNS} FROM leases WHERE addr = ?`).get(ipv4ToInt(address)) as
      | LeaseRow
      | undefined;
    return row && toLease(row);
  }

  getByMac(mac: string): Lease | undefined {
    const row = this.stmts
      .get(`SELECT ${COLUMNS} FROM leases WHERE mac = ? ORDER BY updated_at DESC, expires_at DESC LIMIT 1`)
      .get(mac) as LeaseRow | undefined;
    return row && toLease(row);
  }

  list(query: ListQuery = {}): ListResult<Lease> {
    checkPaging(query.limit, query.offset);
    const filters = query.filters ?? [];
    const conditions = filters.map((f) => `${columnFor(FILTER_COLUMNS, f.path, 'filtered')} IS ?`);
    const where = conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '';
    const params: SqlValue[] = filters.map((f) => sqlValue(f.value));
    const dir = query.sort?.desc ? 'DESC' : 'ASC';
    const order = query.sort ? `${columnFor(SORT_COLUMNS, query.sort.path, 'sorted')} ${dir}, addr ${dir}` : 'addr ASC';
    const rows = this.stmts
      .get(`SELECT ${COLUMNS} FROM leases ${where} ORDER BY ${order} LIMIT ? OFFSET ?`)
      .all(...params, query.limit ?? -1, query.offset ?? 0) as LeaseRow[];
    const total = (this.stmts.get(`SELECT count(*) AS n FROM leases ${where}`).get(...params) as { n: number }).n;
    return { items: rows.map(toLease), total };
  }

  claim(lease: Lease, now: Date): boolean {
    const addr = ipv4ToInt(lease.address);
    const expires = expiryMs(lease);
    const holder = this.stmts.get('SELECT mac, state, expires_at FROM leases WHERE addr = ?').get(addr) as
      | Pick<LeaseRow, 'mac' | 'state' | 'expires_at'>
      | undefined;
    const live = holder !== undefined && !DEAD_STATES.includes(holder.state) && holder.expires_at > now.getTime();
    if (holder !== undefined && holder.mac !== lease.mac && live) return false;
    this.stmts.get('DELETE FROM leases WHERE mac = ? AND addr <> ?').run(lease.mac, addr);
    this.write(addr, lease, expires);
    return true;
  }

  put(lease: Lease): void {
    this.write(ipv4ToInt(lease.address), lease, expiryMs(lease));
  }

  delete(address: string): Lease | undefined {
    const row = this.stmts.get(`DELETE FROM leases WHERE addr = ? RETURNING ${COLUMNS}`).get(ipv4ToInt(address)) as
      | LeaseRow
      | undefined;
    return row && toLease(row);
  }

  /**
   * Lowest free address in [from, to], found with at most three indexed queries, each touching at most
   * 256 rows of its table for a /16 pool: a gap search inside the block of `from`, then the first block
   * strictly inside the range that is not full (from `lease_blocks`), then a gap search inside that block
   * or, when every middle block is full, inside the block of `to`.
   */
  firstUnleased(from: number, to: number): number | undefined {
    if (from > to) return undefined;
    const firstBlock = Math.floor(from / BLOCK);
    const lastBlock = Math.floor(to / BLOCK);
    const head = this.gapIn(from, Math.min(to, firstBlock * BLOCK + BLOCK - 1));
    if (head !== undefined || lastBlock === firstBlock) return head;
    if (lastBlock - firstBlock > 1) {
      const block = this.firstNonFullBlock(firstBlock + 1, lastBlock - 1);
      if (block !== undefined) return this.gapIn(block * BLOCK, block * BLOCK + BLOCK - 1);
    }
    return this.gapIn(lastBlock * BLOCK, to);
  }

  /**
   * One index walk per reason a row is reclaimable (expiry passed; each dead state), each in expiry order and
   * stopping at its first row inside the range; the earliest of those wins. A pool full of live leases thus
   * costs three index probes. `+addr` keeps the planner on the expiry indexes instead of walking the pool by
   * primary key.
   */
  oldestReclaimable(from: number, to: number, now: Date): Lease | undefined {
    const range = { from, to, now: now.getTime() };
    const candidates = [
      this.stmts
        .get(`SELECT ${COLUMNS} FROM leases WHERE expires_at <= :now AND +addr BETWEEN :from AND :to
              ORDER BY expires_at, addr LIMIT 1`)
        .get(range),
      ...DEAD_STATES.map((state) =>
        this.stmts
          .get(`SELECT ${COLUMNS} FROM leases WHERE state = :state AND +addr BETWEEN :from AND :to
                ORDER BY expires_at, addr LIMIT 1`)
          .get({ from, to, state }),
      ),
    ].filter((row): row is LeaseRow => row !== undefined);
    const first = candidates.reduce<LeaseRow | undefined>(
      (best, row) =>
        best === undefined || row.expires_at < best.expires_at ||
        (row.expires_at === best.expires_at && ipv4ToInt(row.address) < ipv4ToInt(best.address))
          ? row
          : best,
      undefined,
    );
    return first && toLease(first);
  }

  sweep(now: Date): number {
    const ms = now.getTime();
    const deleted = this.stmts.get(`DELETE FROM leases WHERE state = 'declined' AND expires_at <= ?`).run(ms).changes;
    const expired = this.stmts
      .get(`UPDATE leases SET state = 'expired', updated_at = ? WHERE state IN ('offered', 'bound') AND expires_at <= ?`)
      .run(now.toISOString(), ms).changes;
    return deleted + expired;
  }

  counts(from: number, to: number): Record<string, number> {
    const rows = this.stmts
      .get('SELECT state, count(*) AS n FROM leases WHERE addr BETWEEN ? AND ? GROUP BY state')
      .all(from, to) as { state: string; n: number }[];
    return Object.fromEntries(rows.map((r) => [r.state, r.n]));
  }

  /** Blocks whose `lease_blocks` count disagrees with the lease rows (0 in a healthy database). */
  blockCountMismatches(): number {
    const row = this.stmts
      .get(
        `SELECT (SELECT count(*) FROM (SELECT block, used FROM lease_blocks WHERE used <> 0
                                     EXCEPT SELECT addr >> 8, count(*) FROM leases GROUP BY addr >> 8))
              + (SELECT count(*) FROM (SELECT addr >> 8, count(*) FROM leases GROUP BY addr >> 8
                                     EXCEPT SELECT block, used FROM lease_blocks)) AS n`,
      )
      .get() as { n: number };
    return row.n;
  }

  /** `lo` if free, else the first leased address in [lo, hi) whose successor is free. Cost: the leased run at `lo`. */
  private gapIn(lo: number, hi: number): number | undefined {
    const row = this.stmts
      .get(
        `SELECT CASE
           WHEN NOT EXISTS (SELECT 1 FROM leases WHERE addr = :lo) THEN :lo
           ELSE (SELECT l.addr + 1 FROM leases AS l
                 WHERE l.addr >= :lo AND l.addr < :hi
                   AND NOT EXISTS (SELECT 1 FROM leases AS n WHERE n.addr = l.addr + 1)
                 ORDER BY l.addr LIMIT 1)
         END AS free`,
      )
      .get({ lo, hi }) as { free: number | null };
    return row.free ?? undefined;
  }

  /** The same gap search over the full blocks: the first block in [lo, hi] with a free address. */
  private firstNonFullBlock(lo: number, hi: number): number | undefined {
    const row = this.stmts
      .get(
        `SELECT CASE
           WHEN NOT EXISTS (SELECT 1 FROM lease_blocks WHERE block = :lo AND used = ${BLOCK}) THEN :lo
           ELSE (SELECT b.block + 1 FROM lease_blocks AS b
                 WHERE b.block >= :lo AND b.block < :hi AND b.used = ${BLOCK}
                   AND NOT EXISTS (SELECT 1 FROM lease_blocks AS n WHERE n.block = b.block + 1 AND n.used = ${BLOCK})
                 ORDER BY b.block LIMIT 1)
         END AS free`,
      )
      .get({ lo, hi }) as { free: number | null };
    return row.free ?? undefined;
  }

  private write(addr: number, lease: Lease, expires: number): void {
    this.stmts
      .get(
        `INSERT INTO leases (addr, ${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (addr) DO UPDATE SET mac = excluded.mac, state = excluded.state,
           expires_at = excluded.expires_at, subnet = excluded.subnet, hostname = excluded.hostname,
           client_id = excluded.client_id, updated_at = excluded.updated_at`,
      )
      .run(addr, lease.address, lease.mac, lease.state, expires, lease.subnet, lease.hostname, lease.clientId, lease.updatedAt);
  }
}
