/**
 * The operator docs say only what this code does: every link resolves, the settings table in operating.md is
 * exactly the daemon's option table, every FARRIER_* variable, `/api/v1` path and `farrier …` command they
 * mention exists, and every `farrier serve` flag they use is a real flag.
 */
import { existsSync, readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import t from 'tap';
import { parse as parseYaml } from 'yaml';
import { buildProgram } from '../../src/cli/program.js';
import { configOptions, packageRoot } from '../../src/config.js';

const root = packageRoot;
const pages = [
  'docs/README.md',
  'docs/operating.md',
  'docs/api.md',
  'docs/troubleshooting.md',
  'docs/virtualbox.md',
  'contrib/relay/README.md',
  'contrib/proxy-dnsmasq/README.md',
];
const text = (p: string): string => readFileSync(join(root, p), 'utf8');

/** GitHub-style heading anchors of a markdown file. */
const anchors = (md: string): Set<string> =>
  new Set(
    [...md.matchAll(/^#+\s+(.+)$/gm)].map((m) =>
      m[1]!
        .trim()
        .toLowerCase()
        .replace(/[^\p{L}\p{N} _-]/gu, '')
        .replace(/ /g, '-'),
    ),
  );

t.test('every relative link resolves, anchors included', async (t) => {
  for (const page of pages) {
    for (const m of text(page).matchAll(/\]\(([^)\s]+)\)/g)) {
      const href = m[1]!;
      if (/^[a-z]+:/.test(href)) continue;
      const [file, anchor] = href.split('#') as [string, string | undefined];
      const target = file === '' ? join(root, page) : resolve(dirname(join(root, page)), file);
      t.ok(existsSync(target), `${page}: ${href} exists`);
      if (anchor && existsSync(target)) t.ok(anchors(readFileSync(target, 'utf8')).has(anchor), `${page}: #${anchor} is a heading of ${file || page}`);
    }
  }
});

t.test('the settings table in operating.md is the daemon option table', async (t) => {
  const rows = [...text('docs/operating.md').matchAll(/^\| `(--[a-z-]+)`(?: \/ `--no-[a-z-]+`)? \| `(FARRIER_[A-Z_]+)` \| ([^|]+) \|/gm)];
  const documented = new Map(rows.map((r) => [r[1]!, { env: r[2]!, dflt: r[3]!.trim() }]));
  t.same([...documented.keys()].sort(), configOptions.map((o) => o.flag).sort(), 'one row per flag, no more, no less');
  for (const o of configOptions) {
    const row = documented.get(o.flag);
    if (!row) continue;
    t.equal(row.env, o.env, `${o.flag}: env ${o.env}`);
    const d = o.default;
    if (typeof d === 'number' || typeof d === 'boolean' || (typeof d === 'string' && o.key !== 'contentDir')) {
      t.equal(row.dflt.replace(/`/g, ''), String(d), `${o.flag}: default ${String(d)}`);
    }
  }
});

t.test('the YAML example in operating.md is a valid config file', async (t) => {
  const md = text('docs/operating.md');
  const block = /```yaml\n([\s\S]*?)```/.exec(md)?.[1];
  t.ok(block, 'a yaml block');
  const doc = parseYaml(block!) as Record<string, unknown>;
  const keys = new Set(configOptions.map((o) => o.key.toLowerCase()));
  for (const k of Object.keys(doc)) t.ok(keys.has(k.replace(/[-_]/g, '').toLowerCase()), `${k} is a config key`);
});

t.test('every FARRIER_ variable mentioned is read by farrier', async (t) => {
  const known = new Set([
    ...configOptions.map((o) => o.env),
    'FARRIER_CONFIG',
    'FARRIER_ADMIN_PASSWORD',
    'FARRIER_ENDPOINT',
    'FARRIER_USER',
    'FARRIER_PASSWORD',
    'FARRIER_TOKEN',
    'FARRIER_CA_CERT',
  ]);
  for (const page of pages) for (const v of new Set(text(page).match(/FARRIER_[A-Z_]+/g) ?? [])) t.ok(known.has(v), `${page}: ${v}`);
});

t.test('every /api/v1 path mentioned is in openapi.yaml', async (t) => {
  const spec = parseYaml(text('openapi.yaml')) as { paths: Record<string, unknown> };
  // Segment by segment: a placeholder (`{key}` in the spec; `{key}`, `<uuid>` or `{machines|profiles}` in the
  // docs) matches any one segment.
  const placeholder = (seg: string): boolean => /^(\{[^}]+\}|<[^>]+>)$/.test(seg);
  const specPaths = Object.keys(spec.paths).map((p) => p.split('/'));
  const inSpec = (path: string): boolean => {
    const segs = path.split('/');
    return specPaths.some((sp) => sp.length === segs.length && sp.every((s, i) => s === segs[i] || placeholder(s) || placeholder(segs[i]!)));
  };
  let n = 0;
  for (const page of pages) {
    for (const m of text(page).matchAll(/\/api\/v1(\/[A-Za-z0-9_{}<>:.%|/-]*)?/g)) {
      const path = m[0].replace(/[.:/]+$/, '');
      if (path === '/api/v1') continue; // "under /api/v1": the prefix alone
      n++;
      t.ok(inSpec(path), `${page}: ${path}`);
    }
  }
  t.ok(n >= 20, `${n} paths checked`);
});

/** Every command path of the CLI, e.g. "machines bootenv". */
function commandPaths(cmd: Command, prefix: string[] = []): Set<string> {
  const out = new Set<string>();
  for (const c of cmd.commands) {
    const path = [...prefix, c.name()];
    out.add(path.join(' '));
    for (const p of commandPaths(c, path)) out.add(p);
  }
  return out;
}

t.test('every farrier command mentioned exists, and serve flags are real', async (t) => {
  const program = buildProgram({ stdout: new PassThrough(), stderr: new PassThrough(), stdin: new PassThrough(), isTTY: false });
  const commands = commandPaths(program);
  const serveFlags = new Set(['--strict', '--config', '--help', ...configOptions.flatMap((o) => [o.flag, `--no-${o.flag.slice(2)}`])]);
  let n = 0;
  for (const page of pages) {
    for (const m of text(page).matchAll(/`([^`\n]*\bfarrier (?:-[A-Z] \S+ )*([a-z]+)(?: ([a-z-]+))?[^`\n]*)`/g)) {
      const [, snippet, first, second] = m;
      if (first === 'serve' || snippet!.includes('npm start')) {
        for (const f of snippet!.match(/--[a-z][a-z-]*/g) ?? []) t.ok(serveFlags.has(f), `${page}: serve flag ${f}`);
      }
      n++;
      const top = program.commands.find((c) => c.name() === first);
      const known = top !== undefined && (second === undefined || top.commands.length === 0 || commands.has(`${first} ${second}`));
      t.ok(known, `${page}: farrier ${first}${second ? ` ${second}` : ''}`);
    }
    for (const line of text(page).split('\n').filter((l) => /(farrier serve|npm start --)/.test(l) && !l.includes('`farrier serve`'))) {
      for (const f of line.match(/\s(--[a-z][a-z-]*)/g) ?? []) t.ok(serveFlags.has(f.trim()), `${page}: serve flag ${f.trim()} in "${line.trim().slice(0, 60)}"`);
    }
  }
  t.ok(n >= 10, `${n} command mentions checked`);
});
