/** The per-machine boot timeline: an append-only log per machine, pruned to its newest N rows on append. */
import type { TimelineEntry } from '../../model/types.js';
import type { Statements } from './statements.js';

export class Timeline {
  constructor(private readonly stmts: Statements) {}

  append(entries: TimelineEntry[], keep: number): void {
    const insert = this.stmts.get('INSERT INTO timeline (machine, entry) VALUES (?, ?)');
    // A batch may hold more than `keep` entries for one machine (a client fetching its files in a loop):
    // the older ones would be pruned at once, so they are not written at all.
    const newer = new Map<string, number>();
    const skip = new Set<number>();
    for (let i = entries.length - 1; i >= 0; i--) {
      const n = (newer.get(entries[i].machine) ?? 0) + 1;
      newer.set(entries[i].machine, n);
      if (n > keep) skip.add(i);
    }
    entries.forEach((e, i) => {
      if (!skip.has(i)) insert.run(e.machine, JSON.stringify(e));
    });
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
