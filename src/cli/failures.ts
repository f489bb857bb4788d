/**
 * The CLI's failure kinds. Each carries the process exit code so scripts can tell a rejected request (1)
 * from a mistyped command line (2) from a daemon that is not there (3).
 */

export const EXIT_API = 1;
export const EXIT_USAGE = 2;
export const EXIT_CONNECTION = 3;

export abstract class CliFailure extends Error {
  abstract readonly exitCode: number;
}

/** The command line itself is wrong: unknown flag, bad document, missing argument. */
export class UsageError extends CliFailure {
  readonly exitCode = EXIT_USAGE;
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface ApiFieldError {
  field: string;
  message: string;
}

/** The daemon answered with a non-2xx status. */
export class ApiError extends CliFailure {
  readonly exitCode = EXIT_API;
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly fieldErrors: ApiFieldError[],
    readonly detail?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The daemon could not be reached at all. */
export class ConnectionError extends CliFailure {
  readonly exitCode = EXIT_CONNECTION;
  constructor(message: string) {
    super(message);
    this.name = 'ConnectionError';
  }
}
