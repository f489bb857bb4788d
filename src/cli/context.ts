/**
 * What a command action needs: the process streams, the resolved global options (endpoint, credentials,
 * output format) and a client built from them.
 */
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { FarrierClient } from './client.js';
import { UsageError } from './failures.js';
import { resolveFormat, type OutputFormat } from './output.js';

export interface Io {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  stdin: NodeJS.ReadableStream;
  /** Whether stdout is a terminal (selects the table format by default). */
  isTTY: boolean;
}

export interface GlobalOptions {
  endpoint: string;
  user?: string;
  password?: string;
  token?: string;
  caCert?: string;
  output?: string;
}

export interface Context {
  client: FarrierClient;
  format: OutputFormat;
  out(text: string): void;
  err(text: string): void;
}

function readCa(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new UsageError(`--ca-cert ${path}: ${(err as Error).message}`);
  }
}

export function contextFor(cmd: Command, io: Io): Context {
  const g = cmd.optsWithGlobals<GlobalOptions>();
  const client = new FarrierClient(g.endpoint, { user: g.user, password: g.password, token: g.token }, g.caCert === undefined ? undefined : readCa(g.caCert));
  return {
    client,
    format: resolveFormat(g.output, io.isTTY),
    out: (text) => void io.stdout.write(text),
    err: (text) => void io.stderr.write(text),
  };
}
