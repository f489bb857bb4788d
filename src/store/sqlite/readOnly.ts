/**
 * A database in a directory this process cannot write (read-only mount, wrong permissions) cannot be opened
 * normally: WAL mode must create its -shm file. So that the daemon can still serve reads and boot files, the
 * store then opens a copy of the file in memory with writes refused (query_only): every write fails
 * UNAVAILABLE with reason READ_ONLY instead of being acknowledged and then lost. Only a cleanly closed
 * database qualifies; changes still in a -wal file would be missing from the copy, so then opening fails.
 */
import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { FarrierError } from '../../errors.js';

/** True when the database's directory exists but may not be written (EROFS, EACCES, EPERM). */
export function inReadOnlyDirectory(path: string): boolean {
  if (path === ':memory:' || !existsSync(path)) return false;
  try {
    accessSync(dirname(path), constants.W_OK);
    return false;
  } catch (err) {
    return ['EROFS', 'EACCES', 'EPERM'].includes((err as NodeJS.ErrnoException).code ?? '');
  }
}

export function openReadOnlyCopy(path: string): Database.Database {
  const wal = `${path}-wal`;
  if (existsSync(wal) && statSync(wal).size > 0) {
    throw new FarrierError(
      'UNAVAILABLE',
      `store ${path}: the data directory is read-only and ${wal} holds changes not yet in the database; make the directory writable so they can be applied`,
      [],
      { reason: 'READ_ONLY', path },
    );
  }
  const image = readFileSync(path);
  // Bytes 18-19 of the header say "WAL"; an in-memory image must say rollback journal or SQLite refuses it.
  if (image.length >= 20) image.fill(1, 18, 20);
  const db = new Database(image);
  db.pragma('query_only = ON');
  return db;
}
