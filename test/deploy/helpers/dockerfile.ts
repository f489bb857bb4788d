/**
 * A small reader for the Dockerfile and .dockerignore, enough for the deployment tests: instructions with
 * line continuations joined, grouped by stage, and Docker's .dockerignore matching (last match wins, a
 * pattern excludes everything under a matched directory, `!` re-includes).
 */

export interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

export interface Stage {
  image: string;
  name?: string;
  instructions: Instruction[];
}

export function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let line = lines[i]!;
    if (/^\s*(#|$)/.test(line)) continue;
    while (/\\\s*$/.test(line) && i + 1 < lines.length) {
      i++;
      const next = lines[i]!;
      // Comment lines inside a continued instruction are dropped by Docker.
      line = line.replace(/\\\s*$/, ' ') + (/^\s*#/.test(next) ? '' : next);
    }
    const m = /^\s*(\w+)\s+([\s\S]*)$/.exec(line);
    if (!m) throw new Error(`Dockerfile line ${start + 1}: cannot parse ${JSON.stringify(line)}`);
    const ins = { keyword: m[1]!.toUpperCase(), args: m[2]!.trim(), line: start + 1 };
    if (ins.keyword === 'FROM') {
      const f = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      if (!f) throw new Error(`Dockerfile line ${ins.line}: bad FROM ${ins.args}`);
      stages.push({ image: f[1]!, name: f[2], instructions: [] });
    } else {
      if (stages.length === 0) {
        if (ins.keyword === 'ARG') continue;
        throw new Error(`Dockerfile line ${ins.line}: ${ins.keyword} before FROM`);
      }
      stages[stages.length - 1]!.instructions.push(ins);
    }
  }
  return stages;
}

/** Exec-form (JSON array) arguments, or undefined for shell form. */
export function execForm(args: string): string[] | undefined {
  if (!args.startsWith('[')) return undefined;
  const v: unknown = JSON.parse(args);
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw new Error(`not a JSON string array: ${args}`);
  return v as string[];
}

export interface CopySpec {
  from?: string;
  sources: string[];
  dest: string;
}

export function parseCopy(args: string): CopySpec {
  const words = args.split(/\s+/);
  let from: string | undefined;
  while (words[0]?.startsWith('--')) {
    const flag = words.shift()!;
    if (flag.startsWith('--from=')) from = flag.slice(7);
  }
  const list = execForm(words.join(' ')) ?? words;
  return { from, sources: list.slice(0, -1), dest: list[list.length - 1]! };
}

/** Debian package names installed (`apt-get install`) or fetched (`apt-get download`) by a RUN line. */
export function aptPackages(run: string): string[] {
  const out: string[] = [];
  for (const part of run.split(/&&|;|\|\|/)) {
    const m = /apt-get\s+(?:-\S+\s+)*(install|download)\s+(.*)$/.exec(part.trim());
    if (!m) continue;
    for (const w of m[2]!.trim().split(/\s+/)) if (w !== '' && !w.startsWith('-')) out.push(w);
  }
  return out;
}

/** Glob for one .dockerignore pattern (Go filepath.Match: `*` and `?` stay within a path segment, `**` any depth). */
function patternRegex(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*' && pattern[i + 1] === '*') {
      re += '.*';
      i++;
      if (pattern[i + 1] === '/') i++;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** Whether `path` (relative to the context, `/`-separated) is left out of the build context. */
export function dockerIgnored(ignoreText: string, path: string): boolean {
  const rules = ignoreText
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => ({ negate: l.startsWith('!'), re: patternRegex(l.replace(/^!/, '').replace(/^\/+|\/+$/g, '')) }));
  const parts = path.replace(/^\.\//, '').replace(/\/+$/, '').split('/');
  // A path is excluded when it, or a directory above it, matches an exclusion not overridden later.
  let ignored = false;
  for (const rule of rules) {
    for (let n = 1; n <= parts.length; n++) {
      if (rule.re.test(parts.slice(0, n).join('/'))) {
        ignored = !rule.negate;
        break;
      }
    }
  }
  return ignored;
}
