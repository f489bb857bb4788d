/** Runs httpServe.ts inside a test namespace and reads back what it served and the POSTs it received. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Test } from 'tap';
import { tempDir } from '../../helpers/env.js';
import { listening, waitFor, type Netns, type NsProcess } from './netns.js';
import { spawnTsScript } from './tsScript.js';

export interface PostRecord {
  path: string;
  authorization: string | null;
  contentType: string | null;
  body: string;
}

export interface RequestRecord {
  method: string;
  path: string;
  status: number;
  bytes: number;
  from: string;
}

export interface NsHttpServer {
  url: string;
  process: NsProcess;
  posts(): PostRecord[];
  requests(): RequestRecord[];
}

/** JSON lines of a log; other lines (loader warnings on stderr) are skipped. */
const jsonLines = <T>(file: string): T[] =>
  existsSync(file)
    ? readFileSync(file, 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as T)
    : [];

/** Starts httpServe.ts inside `ns` on host:port serving `root`; resolves once it listens. */
export async function startNsHttpServer(t: Test, ns: Netns, opts: { host: string; port: number; root: string }): Promise<NsHttpServer> {
  const dir = tempDir(t, 'farrier-http-');
  const postsFile = join(dir, 'posts.jsonl');
  const logFile = join(dir, 'http.log');
  const proc = spawnTsScript(ns, 'httpServe.ts', ['--host', opts.host, '--port', String(opts.port), '--root', opts.root, '--posts', postsFile], logFile);
  let exited = false;
  void proc.exited.then(() => (exited = true));
  await waitFor(async () => exited || (await listening(ns, 'tcp', opts.port)), 30_000, `HTTP server on ${opts.host}:${opts.port}`);
  if (exited) throw new Error(`HTTP server exited: ${existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''}`);
  return {
    url: `http://${opts.host}:${opts.port}`,
    process: proc,
    posts: () => jsonLines<PostRecord>(postsFile),
    requests: () => jsonLines<Partial<RequestRecord>>(logFile).filter((r): r is RequestRecord => typeof r.method === 'string'),
  };
}
