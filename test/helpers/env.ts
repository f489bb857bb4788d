/**
 * Environment gates for tests that need root, network namespaces or Debian tools.
 * On a laptop a missing prerequisite skips the test with a clear message; under CI=true it fails it,
 * because CI installs everything (scripts/install-test-deps.sh) and a silent skip would hide a broken setup.
 */
import { execFileSync } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { Test } from 'tap';

export const isCI = (): boolean => process.env.CI === 'true';

/** Directories searched for tools: PATH plus the sbin dirs a non-login root shell may lack. */
const searchDirs = (): string[] => {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  for (const d of ['/usr/local/sbin', '/usr/sbin', '/sbin', '/usr/bin', '/bin']) if (!dirs.includes(d)) dirs.push(d);
  return dirs;
};

/** Absolute path of an executable, or undefined. */
export function findTool(name: string): string | undefined {
  if (name.includes('/')) {
    try {
      accessSync(name, constants.X_OK);
      return name;
    } catch {
      return undefined;
    }
  }
  for (const dir of searchDirs()) {
    const p = join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/**
 * Shared outcome of a missing prerequisite: fail under CI, otherwise skip the test (plan(0) with a reason).
 * Callers must `return` right after a false result.
 */
function unavailable(t: Test, what: string, skipReason: string): false {
  if (isCI()) {
    t.fail(`CI=true but ${what} is missing: run scripts/install-test-deps.sh`);
  } else {
    t.plan(0, skipReason);
  }
  return false;
}

export function requireRoot(t: Test): boolean {
  if (process.getuid?.() === 0) return true;
  return unavailable(t, 'root', 'needs root and network namespaces; run as root or with CI=true');
}

export function requireTool(t: Test, name: string): boolean {
  if (findTool(name)) return true;
  return unavailable(t, `the tool "${name}"`, `needs "${name}" (Debian: scripts/install-test-deps.sh); run with CI=true to make this a failure`);
}

/** A file shipped by a Debian package (firmware, loaders, kernels). */
export function requireFile(t: Test, path: string, debianPackage: string): boolean {
  try {
    accessSync(path, constants.R_OK);
    return true;
  } catch {
    return unavailable(t, `${path} (Debian package ${debianPackage})`, `needs ${path} from Debian package ${debianPackage}; run with CI=true to make this a failure`);
  }
}

let netnsProbe: boolean | undefined;

/** Root plus a working `ip netns` (probed once per process by listing namespaces). */
export function requireNetns(t: Test): boolean {
  if (!requireRoot(t)) return false;
  if (!requireTool(t, 'ip')) return false;
  if (netnsProbe === undefined) {
    try {
      execFileSync(findTool('ip') as string, ['netns', 'list'], { stdio: 'ignore' });
      netnsProbe = true;
    } catch {
      netnsProbe = false;
    }
  }
  if (netnsProbe) return true;
  return unavailable(t, 'network namespace support (ip netns)', 'needs root and network namespaces; run as root or with CI=true');
}

/** A fresh private directory removed when the test ends. */
export function tempDir(t: Test, prefix = 'farrier-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
