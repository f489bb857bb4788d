/**
 * Templates that loop over huge data, nest loops, recurse through partials, fan out through partials or
 * produce megabytes are stopped by the renderer's budgets (steps, output size, partial depth and calls,
 * wall time) and reported as render errors naming machine, template and line — through the render API
 * (422) and the HTTP boot path (500) of a whole daemon, which keeps answering other requests meanwhile.
 */
import t from 'tap';
import { Renderer } from '../../src/boot/render.js';
import { FarrierError } from '../../src/errors.js';
import { makeHarness } from '../api/harness.js';
import { machine, MemoryBootData } from '../boot/fixtures.js';
import { startWhole } from '../wiring/helpers.js';

const BIG = 3000;
const BLOB = 200_000;

t.test('runaway templates end as render errors; the daemon keeps serving', async (t) => {
  const w = await startWhole(t, { dhcpEnabled: false, tftpEnabled: false });
  const { api } = w;
  const ok = (r: { status: number; text: string }, status: number, what: string): void => {
    t.equal(r.status, status, `${what}: ${r.text.slice(0, 200)}`);
  };
  ok(await api('POST', '/api/v1/params', { name: 'tb-big', schema: { type: 'array' } }), 201, 'param tb-big');
  ok(await api('POST', '/api/v1/params', { name: 'tb-blob', schema: { type: 'string' } }), 201, 'param tb-blob');
  // Partials: one that includes itself, and a chain where each level includes the next twice (2^14 calls).
  ok(await api('POST', '/api/v1/templates', { id: 'tb-self', contents: 'x' }), 201, 'template tb-self');
  ok(await api('PUT', '/api/v1/templates/tb-self', { id: 'tb-self', contents: 'again\n{{> tb-self}}' }), 200, 'tb-self includes itself');
  const FAN = 14;
  for (let i = FAN; i >= 0; i--) {
    const contents = i === FAN ? 'leaf\n' : `{{> tb-fan${i + 1}}}{{> tb-fan${i + 1}}}`;
    ok(await api('POST', '/api/v1/templates', { id: `tb-fan${i}`, contents }), 201, `template tb-fan${i}`);
  }
  const templates: Record<string, string> = {
    fine: 'hello {{machine.name}}\n',
    nested: 'start\n{{#each (param "tb-big")}}{{#each (param "tb-big")}}.{{/each}}{{/each}}\n',
    mega: 'start\nsecond\n{{#each (param "tb-big")}}{{param "tb-blob"}}{{/each}}\n',
    walk: 'a\nb\nc\n{{#each (param "tb-big")}}{{#if this}}{{#with this}}{{#unless false}}{{this}}{{/unless}}{{/with}}{{/if}}{{/each}}{{#each (param "tb-big")}}{{#each (param "tb-big")}}{{/each}}{{/each}}\n',
    recurse: '{{> tb-self}}',
    fanout: '{{> tb-fan0}}',
  };
  ok(
    await api('POST', '/api/v1/bootenvs', {
      name: 'tb-env',
      os: { name: 'tb' },
      kernel: 'vmlinuz',
      templates: Object.entries(templates).map(([name, contents]) => ({ name, path: `machines/{{machine.uuid}}/${name}`, contents })),
    }),
    201,
    'bootenv with runaway templates',
  );
  const big = Array.from({ length: BIG }, (_v, i) => i + 1);
  const created = await api('POST', '/api/v1/machines', { name: 'tb-m', macs: ['52:54:00:7b:00:01'], bootenv: 'tb-env', params: { 'tb-big': big, 'tb-blob': 'y'.repeat(BLOB) } });
  ok(created, 201, 'machine with big params');
  const uuid = (created.body as { uuid: string }).uuid;

  const expected: Record<string, { reason: RegExp; line?: number }> = {
    nested: { reason: /render budget spent: more than \d+ helper calls and block iterations/, line: 2 },
    mega: { reason: /output exceeds \d+ bytes/, line: 3 },
    walk: { reason: /render budget spent/, line: 4 },
    recurse: { reason: /partials nested deeper than \d+: does "tb-self" include itself/ },
    fanout: { reason: /more than \d+ partial calls/ },
  };
  for (const [name, want] of Object.entries(expected)) {
    // The runaway file and a fine one at the same time: the fine one is still answered.
    const [viaApi, fine] = await Promise.all([api('GET', `/api/v1/machines/${uuid}/render?path=${name}`), api('GET', `/api/v1/machines/${uuid}/render?path=fine`)]);
    t.equal(viaApi.status, 422, `${name}: the render API answers 422`);
    const err = viaApi.body as { code: string; message: string; detail: { machine: string; template: string; line: number | null } };
    t.equal(err.code, 'RENDER', `${name}: code RENDER`);
    t.match(err.message, want.reason, `${name}: the reason is given (${err.message.slice(0, 160)})`);
    t.match(err.message, /machine tb-m \(/, `${name}: the machine is named`);
    t.match(err.message, /template \S+/, `${name}: the template is named`);
    if (want.line !== undefined) {
      t.equal(err.detail.line, want.line, `${name}: the line of the loop is given`);
      t.match(err.message, new RegExp(`line ${want.line}:`), `${name}: the message names the line`);
    }
    t.equal(err.detail.machine, uuid);
    t.equal(fine.status, 200, `${name}: a fine file renders at the same time`);
    t.equal(fine.text, 'hello tb-m\n');

    const overHttp = await fetch(`${w.daemon.url}/machines/${uuid}/${name}`);
    t.equal(overHttp.status, 500, `${name}: the boot file answers 500 over HTTP`);
    await overHttp.arrayBuffer();
    const info = await api('GET', '/api/v1/info');
    t.equal(info.status, 200, `${name}: the daemon still answers the API afterwards`);
  }
  const logged = w.logs.join('');
  t.match(logged, /render budget spent/, 'the daemon log has the budget error');
  t.match(logged, /tb-m/, 'naming the machine');
  t.equal((await fetch(`${w.daemon.url}/machines/${uuid}/fine`)).status, 200, 'a fine boot file is served after all of it');
});

t.test('the wall-clock budget stops a render that is still within its step budget', async (t) => {
  const data = new MemoryBootData();
  const renderer = new Renderer(data, { maxSteps: Number.MAX_SAFE_INTEGER, maxMillis: 20 });
  const big = Array.from({ length: 4000 }, (_v, i) => i);
  const m = machine({ params: { big } });
  data.machines.push(m);
  const bootenv = data.bootenvs.get('local')!;
  let caught: unknown;
  try {
    await renderer.render({ machine: m, bootenv, template: { id: 'slow', contents: 'one\n{{#each params.big}}{{#each ../params.big}}{{/each}}{{/each}}' }, provisionerUrl: 'http://10.0.0.1:8091' });
  } catch (err) {
    caught = err;
  }
  t.ok(caught instanceof FarrierError, 'the render fails');
  const err = caught as FarrierError;
  t.equal(err.code, 'RENDER');
  t.match(err.message, /template slow line 2: render budget spent: rendering took longer than 20 ms/, 'naming template, line and the time budget');
  t.match(err.detail, { machine: m.uuid, template: 'slow', line: 2 });

  const next = await renderer.render({ machine: m, bootenv, template: { id: 'fine', contents: '{{machine.name}}' }, provisionerUrl: 'http://10.0.0.1:8091' });
  t.equal(next, m.name, 'the next render starts with a fresh budget');
});

t.test('a too deeply nested template that reaches the renderer (stored before the write check) is a render error', async (t) => {
  const data = new MemoryBootData();
  const renderer = new Renderer(data);
  const m = machine();
  const contents = 'one\ntwo\n' + '{{#if a}}'.repeat(20_000) + '{{/if}}'.repeat(20_000);
  let caught: unknown;
  try {
    await renderer.render({ machine: m, bootenv: data.bootenvs.get('local')!, template: { id: 'old-deep', contents }, provisionerUrl: 'http://10.0.0.1:8091' });
  } catch (err) {
    caught = err;
  }
  t.ok(caught instanceof FarrierError && caught.code === 'RENDER', 'the render fails');
  t.match((caught as Error).message, /template old-deep line 3: blocks nested deeper than 64/);
});

t.test('legitimate loops stay well inside the budgets', async (t) => {
  const data = new MemoryBootData();
  const renderer = new Renderer(data);
  const m = machine({ params: { pkgs: Array.from({ length: 2000 }, (_v, i) => `pkg${i}`) } });
  data.machines.push(m);
  const out = await renderer.render({
    machine: m,
    bootenv: data.bootenvs.get('local')!,
    template: { id: 'pkgs', contents: '{{#each params.pkgs}}{{#if @first}}%packages\n{{/if}}{{this}}\n{{/each}}%end\n' },
    provisionerUrl: 'http://10.0.0.1:8091',
  });
  t.equal(out.split('\n').length, 2003, 'a 2000-package list renders whole');
});

t.test('templates nested too deep for the Handlebars parser are refused at write time, by line', async (t) => {
  const { api } = await makeHarness(t);
  const N = 20_000;
  // Each of these kept the parser busy for minutes (its time grows much faster than the nesting).
  const sources: Record<string, string> = {
    blocks: 'first line\n' + '{{#if a}}'.repeat(N) + 'x' + '{{/if}}'.repeat(N),
    unclosed: '{{#each a}}\n'.repeat(N),
    'else-if chain': '{{#if a}}' + '{{else if b}}x'.repeat(N) + '{{/if}}',
    subexpressions: '{{a ' + '(b '.repeat(N) + ')'.repeat(N) + '}}',
    'partial blocks': '{{#> p}}'.repeat(N) + '{{/p}}'.repeat(N),
  };
  for (const [what, contents] of Object.entries(sources)) {
    const [res, info] = await Promise.all([api('POST', '/api/v1/templates', { body: { id: 'tb-deep', contents } }), api('GET', '/api/v1/info')]);
    t.equal(res.status, 422, `${what}: refused`);
    const err = res.body as { message: string; fieldErrors: Array<{ field: string; message: string }> };
    t.match(err.fieldErrors, [{ field: 'contents', message: /nested deeper than \d+/ }], `${what}: contents is named with the reason`);
    t.match(err.message, /line \d+/, `${what}: the line is named`);
    t.equal(info.status, 200, `${what}: the API answers meanwhile`);
    const env = await api('POST', '/api/v1/bootenvs', { body: { name: 'tb-deep', os: { name: 'tb' }, bootParams: contents } });
    t.equal(env.status, 422, `${what}: refused as a bootenv's bootParams too`);
  }
  const blocks = await api('POST', '/api/v1/templates', { body: { id: 'tb-deep', contents: 'a\nb\n' + '{{#if a}}'.repeat(100) + '{{/if}}'.repeat(100) } });
  t.match((blocks.body as { message: string }).message, /line 3: blocks nested deeper than 64/, 'the line where the nesting goes too deep');
  const fine = '{{#each params.disks}}{{#if this.boot}}{{#with this}}{{#unless skip}}{{default (json (array name size)) "x"}}{{else if other}}y{{else}}z{{/unless}}{{/with}}{{/if}}{{/each}}';
  t.equal((await api('POST', '/api/v1/templates', { body: { id: 'tb-ok', contents: '{{#if a}}'.repeat(40) + fine + '{{/if}}'.repeat(40) } })).status, 201, 'real nesting (40 levels and a chain) is accepted');
});
