/**
 * Turns SQLite failures that an operator can fix (disk full, read-only files, a lock held too long, I/O
 * errors) into UNAVAILABLE errors that name the database file and say what to do. Anything else passes
 * through unchanged: FarrierErrors raised by the store itself, and programming errors.
 */
import { FarrierError } from '../../errors.js';

interface SqliteFailure {
  code: string;
  message: string;
}

function isSqliteFailure(err: unknown): err is SqliteFailure {
  if (!(err instanceof Error)) return false;
  const code: unknown = (err as Error & { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('SQLITE_');
}

function remedyFor(code: string): string | undefined {
  if (code.startsWith('SQLITE_FULL')) return 'the disk holding it is full: free space, then retry';
  if (code.startsWith('SQLITE_READONLY')) {
    return 'it is read-only: check the permissions of the file, its -wal/-shm files and the data directory';
  }
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return 'another process held the write lock too long: retry, and check for a stuck process using the same data directory';
  }
  if (code.startsWith('SQLITE_CANTOPEN')) {
    return 'it cannot be opened: check that the data directory exists and is writable';
  }
  if (code.startsWith('SQLITE_IOERR')) return 'an I/O error occurred: check the disk and the data directory';
  if (code.startsWith('SQLITE_CORRUPT') || code.startsWith('SQLITE_NOTADB')) {
    return 'the file is damaged or not a Farrier database: restore it from a backup or move it aside';
  }
  return undefined;
}

/** Rethrowable form of `err` for the database at `dbPath`. */
export function mapSqliteError(err: unknown, dbPath: string): unknown {
  if (!isSqliteFailure(err)) return err;
  const remedy = remedyFor(err.code);
  if (remedy === undefined) return err;
  return new FarrierError('UNAVAILABLE', `store ${dbPath}: ${err.message} (${err.code}); ${remedy}`, [], {
    sqliteCode: err.code,
    path: dbPath,
  });
}
