/**
 * Turns SQLite failures that an operator can fix (disk full, read-only files, a lock held too long, I/O
 * errors) into UNAVAILABLE errors that name the database file and say what to do; `detail.reason` names the
 * cause as a stable code (DISK_FULL, READ_ONLY, LOCKED, CANNOT_OPEN, IO_ERROR, CORRUPT) for the API's error
 * envelope and for scripts. Anything else passes through unchanged: FarrierErrors raised by the store
 * itself, and programming errors.
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

/** What an operator must fix, as a stable code (`detail.reason` of the error) and a sentence. */
function causeOf(code: string): { reason: string; remedy: string } | undefined {
  if (code.startsWith('SQLITE_FULL')) return { reason: 'DISK_FULL', remedy: 'the disk holding it is full: free space, then retry' };
  if (code.startsWith('SQLITE_READONLY')) {
    return { reason: 'READ_ONLY', remedy: 'it is read-only: check the permissions of the file, its -wal/-shm files and the data directory' };
  }
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return { reason: 'LOCKED', remedy: 'another process held the write lock too long: retry, and check for a stuck process using the same data directory' };
  }
  if (code.startsWith('SQLITE_CANTOPEN')) {
    return { reason: 'CANNOT_OPEN', remedy: 'it cannot be opened: check that the data directory exists and is writable' };
  }
  if (code.startsWith('SQLITE_IOERR')) return { reason: 'IO_ERROR', remedy: 'an I/O error occurred: check the disk and the data directory' };
  if (code.startsWith('SQLITE_CORRUPT') || code.startsWith('SQLITE_NOTADB')) {
    return { reason: 'CORRUPT', remedy: 'the file is damaged or not a Farrier database: restore it from a backup or move it aside' };
  }
  return undefined;
}

/** True for the failure of a write that found another connection holding the write lock. */
export function isBusy(err: unknown): boolean {
  return isSqliteFailure(err) && err.code.startsWith('SQLITE_BUSY');
}

/** Rethrowable form of `err` for the database at `dbPath`. */
export function mapSqliteError(err: unknown, dbPath: string): unknown {
  if (!isSqliteFailure(err)) return err;
  const cause = causeOf(err.code);
  if (cause === undefined) return err;
  return new FarrierError('UNAVAILABLE', `store ${dbPath}: ${err.message} (${err.code}); ${cause.remedy}`, [], {
    reason: cause.reason,
    sqliteCode: err.code,
    path: dbPath,
  });
}
