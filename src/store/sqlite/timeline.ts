/** The per-machine boot timeline: an append-only log per machine, pruned to its newest N rows on append. */
import type { TimelineEntry } from '../../model/types.js';
import type { Statements } from './statements.js';

export class Timeline {
  constructor(private readonly stmts: Statements) {}

  append(entries: TimelineEntry[], keep: number): void {
    const insert = this.stmts.get('INSERT INTO timeline (machine, entry) VALUES (?, ?)');
    for (const e of entries) insert.run(e.machine, JSON.stringify(e));
    const prune = this.stmts.get(
      'DELETE FROM timeline WHERE machine = ? AND id <= (SELECT id FROM timeline WHERE machine = ? ORDER BY id DESC LIMIT 1 OFFSET ?)',
    );
    for (const machine of new Set(entries.map((e) => e.machine))) prune.run(machine, machine, keep);
  }

  list(machine: string, limit: number): TimelineEntry[] {
    const rows = this.stmts.get('SELECT entry FROM timeline WHERE machine = ? ORDER BY id DESC LIMIT ?').all(machine, limit) as { entry: string }[];
    return rows.reverse().map((r) => JSON.parse(r.entry) as TimelineEntry);
  }

  delete(machine: string): void {
    this.stmts.get('DELETE FROM timeline WHERE machine = ?').run(machine);
  }
}
