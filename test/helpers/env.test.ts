import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { Test, type TestOpts } from 'tap';
import { findTool, requireTool, tempDir } from './env.js';

/** Runs `fn` against a detached Test so its skip/fail outcome can be inspected without affecting this file. */
async function probe(ci: string | undefined, fn: (tt: Test) => boolean): Promise<{ ok: boolean; returned: boolean; skip: number; fail: number; diag: string }> {
  const saved = process.env.CI;
  if (ci === undefined) delete process.env.CI;
  else process.env.CI = ci;
  let out = '';
  const tt = new Test({ name: 'probe' } satisfies TestOpts as TestOpts);
  tt.on('data', (c: Buffer | string) => (out += c.toString()));
  let returned = false;
  try {
    returned = fn(tt);
  } finally {
    if (saved === undefined) delete process.env.CI;
    else process.env.CI = saved;
  }
  tt.end();
  await tt.concat();
  return { ok: tt.passing(), returned, skip: tt.counts.skip, fail: tt.counts.fail, diag: out };
}

t.test('a missing tool skips with a reason outside CI', async (t) => {
  const r = await probe(undefined, (tt) => requireTool(tt, 'farrier-no-such-tool'));
  t.equal(r.returned, false);
  t.ok(r.ok, 'the probe test is not failed');
  t.match(r.diag, /1\.\.0 # needs "farrier-no-such-tool"/);
});

t.test('a missing tool fails the test under CI=true', async (t) => {
  const r = await probe('true', (tt) => requireTool(tt, 'farrier-no-such-tool'));
  t.equal(r.returned, false);
  t.notOk(r.ok, 'the probe test failed');
  t.equal(r.fail, 1);
  t.match(r.diag, /CI=true but the tool "farrier-no-such-tool" is missing: run scripts\/install-test-deps.sh/);
});

t.test('a present tool passes the gate', async (t) => {
  t.ok(findTool('node'), 'node is found on PATH');
  const r = await probe('true', (tt) => requireTool(tt, 'node'));
  t.equal(r.returned, true);
  t.ok(r.ok);
});

t.test('tempDir is removed when its test ends', async (t) => {
  let dir = '';
  await t.test('uses a temp dir', async (tt) => {
    dir = tempDir(tt);
    writeFileSync(join(dir, 'x'), 'y');
    tt.ok(existsSync(join(dir, 'x')));
  });
  t.notOk(existsSync(dir), `${dir} was removed`);
});
