/**
 * Generic object storage: one row per (kind, key) holding the whole object as JSON (metadata included, so
 * filters and sorts work on createdAt/updatedAt too), plus `unique_values` rows that enforce the unique
 * fields. Methods are synchronous; writes must run inside the write queue's transaction.
 */
import { conflict, FarrierError, notFound } from '../../errors.js';
import type { Kind, Meta } from '../../model/types.js';
import type { Filter, ListQuery, ListResult, PutOptions, Reference, Stored } from '../store.js';
import { checkPaging, filterCondition, filterParams, jsonPath, type SqlValue } from './jsonPath.js';
import type { Statements } from './statements.js';

/** Fields whose values must be unique within their kind; an array field makes each element unique. */
const UNIQUE_FIELDS: Partial<Record<Kind, readonly string[]>> = {
  machines: ['name', 'macs'],
  reservations: ['mac'],
  subnets: ['cidr'],
};

/** How many referencing objects a "still in use" error names; the total is always given. */
const MAX_LISTED_USERS = 20;

interface ObjectRow {
  key: string;
  body: string;
}

interface UniqueValue {
  field: string;
  /** Field path for the error, e.g. `/macs/1`. */
  pointer: string;
  value: string;
}

function uniqueValues(kind: Kind, obj: Record<string, unknown>): UniqueValue[] {
  const out: UniqueValue[] = [];
  for (const field of UNIQUE_FIELDS[kind] ?? []) {
    const v = obj[field];
    const elements = Array.isArray(v) ? v : [v];
    const seen = new Set<string>();
    elements.forEach((el, i) => {
      // Null, absent and empty values are "no value" (an unnamed machine), not a value to reserve.
      if (el === null || el === undefined || el === '') return;
      const value = typeof el === 'string' ? el : JSON.stringify(el);
      // A value repeated inside one object (macs: [a, a]) is not a clash with another object.
      if (seen.has(value)) return;
      seen.add(value);
      out.push({ field, pointer: Array.isArray(v) ? `/${field}/${i}` : `/${field}`, value });
    });
  }
  return out;
}

/** Filters that `unique_values` answers exactly: a non-empty string on a unique field. */
function isUniqueLookup(kind: Kind, filter: Filter): boolean {
  return filter.path.length === 1 && (UNIQUE_FIELDS[kind] ?? []).includes(filter.path[0]) &&
    typeof filter.value === 'string' && filter.value !== '';
}

/**
 * Scalar string fields with an expression index on `json_extract(body, '$.<field>')` (migrations 6, 7): a
 * machine by client address (every bound lease and boot-file transfer), machines by bootenv (API lists).
 */
const INDEXED_FIELDS: Partial<Record<Kind, readonly ('address' | 'bootenv')[]>> = {
  machines: ['address', 'bootenv'],
  reservations: ['address'],
};

function indexedField(kind: Kind, filter: Filter): 'address' | 'bootenv' | undefined {
  if (filter.path.length !== 1 || typeof filter.value !== 'string' || filter.value === '') return undefined;
  return INDEXED_FIELDS[kind]?.find((f) => f === filter.path[0]);
}

export class Objects {
  constructor(private readonly stmts: Statements) {}

  get<T>(kind: Kind, key: string): Stored<T> | undefined {
    const row = this.stmts.get('SELECT body FROM objects WHERE kind = ? AND key = ?').get(kind, key) as
      | ObjectRow
      | undefined;
    return row === undefined ? undefined : (JSON.parse(row.body) as Stored<T>);
  }

  findOne<T>(kind: Kind, filters: Filter[]): Stored<T> | undefined {
    // no total: counting the matches again cost as much as finding the one (a machine by address, per transfer)
    return this.query<T>(kind, { filters, limit: 1 }, false).items[0];
  }

  list<T>(kind: Kind, query: ListQuery = {}): ListResult<Stored<T>> {
    return this.query<T>(kind, query, true);
  }

  private query<T>(kind: Kind, query: ListQuery, withTotal: boolean): ListResult<Stored<T>> {
    checkPaging(query.limit, query.offset);
    const filters = query.filters ?? [];
    const conditions = ['kind = ?'];
    const params: SqlValue[] = [kind];
    for (const f of filters) {
      // A lookup by a unique field (machine by MAC or name, on every DHCP request) goes through the unique
      // index to at most one row; the JSON condition after it still decides the match.
      if (isUniqueLookup(kind, f)) {
        conditions.push('key IN (SELECT key FROM unique_values WHERE kind = ? AND field = ? AND value = ?)');
        params.push(kind, f.path[0], f.value as string);
      } else {
        // Same idea through an expression index; the literal path must match the index's expression. A page
        // (limit) of a bootenv is left to the key-order scan, which stops at the page's end: for a bootenv
        // most machines share, reading every match first through the index costs more than that scan.
        const field = indexedField(kind, f);
        if (field === 'address' || (field && query.limit === undefined)) {
          conditions.push(`key IN (SELECT key FROM objects WHERE kind = ? AND json_extract(body, '$.${field}') = ?)`);
          params.push(kind, f.value as string);
        }
      }
      conditions.push(filterCondition('body'));
      params.push(...filterParams(f));
    }
    const where = conditions.join(' AND ');
    const order = query.sort
      ? `json_extract(body, ?) ${query.sort.desc ? 'DESC' : 'ASC'}, key ${query.sort.desc ? 'DESC' : 'ASC'}`
      : 'key ASC';
    const orderParams = query.sort ? [jsonPath(query.sort.path)] : [];
    const rows = this.stmts
      .get(`SELECT body FROM objects WHERE ${where} ORDER BY ${order} LIMIT ? OFFSET ?`)
      .all(...params, ...orderParams, query.limit ?? -1, query.offset ?? 0) as ObjectRow[];
    const items = rows.map((r) => JSON.parse(r.body) as Stored<T>);
    // The count is only needed when the page may not hold every match.
    const pageIsAll = (query.offset ?? 0) === 0 && (query.limit === undefined || items.length < query.limit);
    const total = pageIsAll || !withTotal
      ? items.length
      : (this.stmts.get(`SELECT count(*) AS n FROM objects WHERE ${where}`).get(...params) as { n: number }).n;
    return { items, total };
  }

  put<T extends object>(
    kind: Kind,
    key: string,
    obj: Omit<T, keyof Meta>,
    opts: PutOptions,
    now: Date,
  ): Stored<T> {
    const existing = this.stmts
      .get('SELECT version, created_at AS createdAt FROM objects WHERE kind = ? AND key = ?')
      .get(kind, key) as { version: number; createdAt: string } | undefined;
    if (opts.mode === 'create' && existing) throw conflict(`${kind} ${JSON.stringify(key)} already exists`);
    if (opts.mode === 'replace' && !existing) throw notFound(kind, key);
    if (opts.expectVersion !== undefined && existing?.version !== opts.expectVersion) {
      throw conflict(
        `${kind} ${JSON.stringify(key)} was changed by someone else: expected version ${opts.expectVersion}, ` +
          `found ${existing ? `version ${existing.version}` : 'no object'}; re-read it and retry`,
        { expectedVersion: opts.expectVersion, actualVersion: existing?.version ?? null },
      );
    }
    const stamp = now.toISOString();
    const stored = {
      ...obj,
      createdAt: existing?.createdAt ?? stamp,
      updatedAt: stamp,
      version: (existing?.version ?? 0) + 1,
    } as Stored<T>;
    const values = uniqueValues(kind, stored as Record<string, unknown>);
    this.checkUnique(kind, key, values);
    const body = JSON.stringify(stored);
    this.stmts
      .get(
        `INSERT INTO objects (kind, key, body, version, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (kind, key) DO UPDATE SET body = excluded.body, version = excluded.version,
           updated_at = excluded.updated_at`,
      )
      .run(kind, key, body, stored.version, stored.createdAt, stored.updatedAt);
    this.stmts.get('DELETE FROM unique_values WHERE kind = ? AND key = ?').run(kind, key);
    const insertUnique = this.stmts.get('INSERT INTO unique_values (kind, field, value, key) VALUES (?, ?, ?, ?)');
    for (const u of values) insertUnique.run(kind, u.field, u.value, key);
    // What get() will return: undefined fields dropped, dates as strings.
    return JSON.parse(body) as Stored<T>;
  }

  delete<T>(kind: Kind, key: string, blockedBy: Reference[] = []): Stored<T> | undefined {
    const current = this.get<T>(kind, key);
    if (current === undefined) return undefined;
    this.checkUnused(kind, key, blockedBy);
    this.stmts.get('DELETE FROM objects WHERE kind = ? AND key = ?').run(kind, key);
    return current;
  }

  private checkUnique(kind: Kind, key: string, values: UniqueValue[]): void {
    const holderOf = this.stmts.get(
      'SELECT key FROM unique_values WHERE kind = ? AND field = ? AND value = ? AND key <> ?',
    );
    for (const u of values) {
      const holder = holderOf.get(kind, u.field, u.value, key) as { key: string } | undefined;
      if (holder === undefined) continue;
      throw new FarrierError(
        'CONFLICT',
        `${kind} ${u.field} ${JSON.stringify(u.value)} is already used by ${kind}/${holder.key}`,
        [{ field: u.pointer, message: `${JSON.stringify(u.value)} is already used by ${kind}/${holder.key}` }],
        { field: u.field, value: u.value, holder: `${kind}/${holder.key}` },
      );
    }
  }

  private checkUnused(kind: Kind, key: string, blockedBy: Reference[]): void {
    const users: string[] = [];
    let total = 0;
    for (const ref of blockedBy) {
      const where = `kind = ? AND ${filterCondition('body')} AND NOT (kind = ? AND key = ?)`;
      const params = [ref.kind, ...filterParams({ path: ref.path, value: key }), kind, key];
      total += (this.stmts.get(`SELECT count(*) AS n FROM objects WHERE ${where}`).get(...params) as { n: number }).n;
      const room = MAX_LISTED_USERS - users.length;
      if (room <= 0) continue;
      const rows = this.stmts
        .get(`SELECT key FROM objects WHERE ${where} ORDER BY key LIMIT ?`)
        .all(...params, room) as { key: string }[];
      users.push(...rows.map((r) => `${ref.kind}/${r.key}`));
    }
    if (total === 0) return;
    const more = total > users.length ? ` and ${total - users.length} more` : '';
    throw conflict(
      `${kind} ${JSON.stringify(key)} is in use by ${total} object${total === 1 ? '' : 's'}: ` +
        `${users.join(', ')}${more}`,
      { users, total },
    );
  }
}
