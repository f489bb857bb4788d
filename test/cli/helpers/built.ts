/**
 * The compiled `farrier` entry (dist/cli/main.js) for tests that run the CLI as a real process.
 * Spawning it costs a plain Node start; spawning src/cli/main.ts through tap's TypeScript loader cost
 * 1.3-4 s per invocation, which made the CLI tests take minutes. `npm test` (scripts/run-tests.mjs)
 * builds dist first; a missing or stale build is an error that says how to fix it, never a silent run of
 * old code.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const packageRoot = fileURLToPath(new URL('../../../', import.meta.url));
export const BUILT_CLI = join(packageRoot, 'dist', 'cli', 'main.js');

/** Newest src/**\/*.ts modified after `since` (ms), if any. */
function newerSource(since: number): string | undefined {
  const src = join(packageRoot, 'src');
  return readdirSync(src, { recursive: true })
    .map((f) => join(src, String(f)))
    .find((f) => f.endsWith('.ts') && statSync(f).mtimeMs > since);
}

let checked = false;

/** Path of dist/cli/main.js; throws with the fix when it is missing or older than a source file. */
export function builtCli(): string {
  if (checked) return BUILT_CLI;
  if (!existsSync(BUILT_CLI)) {
    throw new Error(`${BUILT_CLI} is missing: run \`npm run build\` (npm test builds it before running the tests)`);
  }
  const stale = newerSource(statSync(BUILT_CLI).mtimeMs);
  if (stale !== undefined) {
    throw new Error(`dist/ is older than ${stale}: run \`npm run build\` (npm test builds it before running the tests)`);
  }
  checked = true;
  return BUILT_CLI;
}
