/**
 * Prepared-statement cache. better-sqlite3 compiles a statement on every prepare(); the lease path runs
 * thousands of times a second, so each distinct SQL text is compiled once per connection.
 */
import type { Database, Statement } from 'better-sqlite3';

export class Statements {
  private readonly cache = new Map<string, Statement>();

  constructor(private readonly db: Database) {}

  get(sql: string): Statement {
    let stmt = this.cache.get(sql);
    if (stmt === undefined) {
      stmt = this.db.prepare(sql);
      this.cache.set(sql, stmt);
    }
    return stmt;
  }
}
