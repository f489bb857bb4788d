/** Starting TypeScript helper scripts (HTTP/TFTP servers) as their own processes inside test namespaces. */
import { fileURLToPath } from 'node:url';
import type { Netns, NsProcess } from './netns.js';

/** The TypeScript loader tap runs tests with, so helper scripts started in a namespace run as TypeScript too. */
export function tsLoaderArgs(): string[] {
  const fromTap = process.execArgv.filter((a) => a.includes('@tapjs/typescript'));
  return fromTap.length ? fromTap : [`--import=${import.meta.resolve('@tapjs/typescript/import')}`];
}

/** Runs test/e2e/lib/<script> (TypeScript) as its own Node process inside `ns`. */
export function spawnTsScript(ns: Netns, script: string, args: string[], logFile: string): NsProcess {
  const path = fileURLToPath(new URL(`./${script}`, import.meta.url));
  return ns.spawn(process.execPath, [...tsLoaderArgs(), path, ...args], { logFile });
}
