/** The prefs map: one row per key, the value as JSON. Writes must run inside the write queue's transaction. */
import type { Statements } from './statements.js';

export class Prefs {
  constructor(private readonly stmts: Statements) {}

  all(): Record<string, unknown> {
    const rows = this.stmts.get('SELECT key, value FROM prefs ORDER BY key').all() as { key: string; value: string }[];
    return Object.fromEntries(rows.map((r) => [r.key, JSON.parse(r.value) as unknown]));
  }

  /** Merge `values` (null removes a key) and return the resulting map. */
  merge(values: Record<string, unknown>): Record<string, unknown> {
    const upsert = this.stmts.get(
      'INSERT INTO prefs (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
    );
    const remove = this.stmts.get('DELETE FROM prefs WHERE key = ?');
    for (const [key, value] of Object.entries(values)) {
      if (value === null || value === undefined) remove.run(key);
      else upsert.run(key, JSON.stringify(value));
    }
    return this.all();
  }
}
