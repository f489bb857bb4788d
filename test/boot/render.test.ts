import t from 'tap';
import { FarrierError } from '../../src/errors.js';
import { Renderer } from '../../src/boot/render.js';
import { machine, MemoryBootData } from './fixtures.js';

const url = 'http://10.77.0.1:8091';

function setup() {
  const data = new MemoryBootData();
  const renderer = new Renderer(data, { maxDepth: 8, maxOutputBytes: 64 * 1024 });
  const m = machine({ bootenv: 'flatcar', params: { 'ssh-keys': ['ssh-ed25519 AAAA key1'], rack: 'r7', 'root-password-hash': '$6$secret-hash' } });
  data.machines.push(m);
  const bootenv = data.bootenvs.get('flatcar')!;
  const render = (contents: string, id = 'tpl', who: typeof m | null = m) =>
    renderer.render({ machine: who, bootenv, template: { id, contents }, provisionerUrl: url });
  return { data, renderer, m, bootenv, render };
}

async function renderError(p: Promise<unknown>): Promise<FarrierError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof FarrierError) return err;
    throw err;
  }
  throw new Error('render did not fail');
}

t.test('context: machine, urls, params, boot files', async (t) => {
  const { render } = setup();
  const out = await render('{{machine.uuid}} {{machine.name}} {{machine.mac}} {{machine.macHyphen}} {{machine.address}} {{machine.hexAddress}} {{machine.arch}}\n{{machine.url}}\n{{apiUrl}}\n{{params.rack}} {{bootenv.name}}\n{{boot.kernelUrl}}\n{{join boot.initrdUrls ","}}');
  t.equal(
    out,
    '3f2a6c1e-0b5d-4e8f-9a7b-1c2d3e4f5a6b node1.lab 52:54:00:12:34:56 52-54-00-12-34-56 10.77.0.50 0A4D0032 amd64\n' +
      `${url}/machines/3f2a6c1e-0b5d-4e8f-9a7b-1c2d3e4f5a6b\n${url}/api/v1\nr7 flatcar\n` +
      `${url}/flatcar/flatcar_production_pxe.vmlinuz\n${url}/flatcar/flatcar_production_pxe_image.cpio.gz`,
  );
});

t.test('bootParams are rendered against the same context', async (t) => {
  const { render } = setup();
  const out = await render('{{bootParams}}');
  t.match(out, 'ignition.config.url=http://10.77.0.1:8091/machines/3f2a6c1e-0b5d-4e8f-9a7b-1c2d3e4f5a6b/ignition.json');
  t.match(out, 'flatcar.first_boot=1');
});

t.test('strict mode: a missing value is an error naming machine, bootenv, template, line and name', async (t) => {
  const { render } = setup();
  const err = await renderError(render('line one\nrack={{params.nosuch}}\n', 'my-tpl'));
  t.equal(err.code, 'RENDER');
  t.match(err.message, 'machine node1.lab (3f2a6c1e-0b5d-4e8f-9a7b-1c2d3e4f5a6b)');
  t.match(err.message, 'bootenv flatcar');
  t.match(err.message, 'template my-tpl line 2');
  t.match(err.message, 'missing value "nosuch"');
  t.same(err.detail, { machine: '3f2a6c1e-0b5d-4e8f-9a7b-1c2d3e4f5a6b', bootenv: 'flatcar', template: 'my-tpl', line: 2, missing: 'nosuch' });
});

t.test('param helper: value, schema default, error when unset', async (t) => {
  const { render } = setup();
  t.equal(await render('{{param "rack"}}'), 'r7');
  t.equal(await render('{{param "timezone"}}'), 'UTC', 'schema default of a shipped param');
  const err = await renderError(render('a\nb\n  {{param "ntp-servers"}}', 'ntp-tpl'));
  t.match(err.message, 'template ntp-tpl line 3: param "ntp-servers" is not set and has no default');
  t.equal(err.detail?.missing, 'ntp-servers');
});

t.test('helpers: json, yaml, default, join, indent, b64, urlencode, eq, array', async (t) => {
  const { render } = setup();
  t.equal(await render('{{json params.ssh-keys}}'), '["ssh-ed25519 AAAA key1"]');
  t.equal(await render('{{json (default params.nothing (array))}}'), '[]');
  t.equal(await render('x:\n{{indent 2 (yaml params.ssh-keys)}}'), 'x:\n  - ssh-ed25519 AAAA key1');
  t.equal(await render('{{default params.nothing "fallback"}} {{default params.rack "x"}}'), 'fallback r7');
  t.equal(await render('{{join (array "a" "b" "c") ","}}'), 'a,b,c');
  t.equal(await render('{{b64 "hello"}}'), 'aGVsbG8=');
  t.equal(await render('{{urlencode "a b/c"}}'), 'a%20b%2Fc');
  t.equal(await render('{{#if (eq params.rack "r7")}}yes{{else}}no{{/if}}'), 'yes');
  t.equal(await render('{{json params.ssh-keys indent=2}}'), '[\n  "ssh-ed25519 AAAA key1"\n]');
  const err = await renderError(render('{{join params.rack}}'));
  t.match(err.message, 'join needs a list');
  t.match((await renderError(render('{{indent 1000000000 "x"}}'))).message, 'indent needs a number of spaces (0-256)');
});

t.test('partials by template id work across templates and report errors in the partial', async (t) => {
  const { data, render } = setup();
  data.addTemplate('part-a', 'A[{{> part-b}}]');
  data.addTemplate('part-b', 'B={{params.rack}}');
  data.addTemplate('part-bad', 'ok\nok\n{{params.absent}}');
  t.equal(await render('<{{> part-a}}>'), '<A[B=r7]>');
  t.equal(await render('  {{> part-b}}\nend'), '  B=r7end', 'standalone partial is indented');
  const err = await renderError(render('x {{> part-bad}}', 'outer'));
  t.match(err.message, 'template part-bad line 3: missing value "absent"');
  const missing = await renderError(render('{{> no-such-template}}', 'outer'));
  t.match(missing.message, 'template outer: includes partial "no-such-template", which is not a template');
});

t.test('runaway templates are reported, not a hang', async (t) => {
  const { data, render } = setup();
  data.addTemplate('loop', 'x{{> loop}}');
  const deep = await renderError(render('{{> loop}}'));
  t.match(deep.message, 'partials nested deeper than 8');
  data.addTemplate('fan', '{{#each (array 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16)}}{{> fan2}}{{/each}}');
  data.addTemplate('fan2', '{{#each (array 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16)}}{{> fan3}}{{/each}}');
  data.addTemplate('fan3', '{{#each (array 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16)}}{{> fan4}}{{/each}}');
  data.addTemplate('fan4', '0123456789012345678901234567890123456789');
  const big = await renderError(render('{{> fan}}'));
  t.match(big.message, /more than 10000 partial calls|output exceeds 65536 bytes/);
});

t.test('an edited template is used by the next render (cache keyed by contents)', async (t) => {
  const { data, render } = setup();
  data.addTemplate('p', 'one');
  t.equal(await render('{{> p}}'), 'one');
  data.addTemplate('p', 'two');
  t.equal(await render('{{> p}}'), 'two');
  t.equal(await render('v1', 'same-id'), 'v1');
  t.equal(await render('v2', 'same-id'), 'v2');
});

t.test('a parse error names the template and line', async (t) => {
  const { render } = setup();
  const err = await renderError(render('ok\n{{#if x}}unclosed', 'broken'));
  t.match(err.message, 'template broken');
  t.match(err.message, 'does not parse');
});

t.test('token is minted only when a template uses it, and only for known machines', async (t) => {
  const { data, render } = setup();
  await render('{{machine.name}}');
  t.equal(data.tokensMinted, 0);
  t.equal(await render('{{token}}'), 'tok-3f2a6c1e');
  t.equal(data.tokensMinted, 1);
  const err = await renderError(render('{{token}}', 'tpl', null));
  t.match(err.message, 'unknown machine');
  t.match(err.message, 'missing value "token"');
});

t.test('secure params render only into the files of the machine holding them', async (t) => {
  const { data, render, m } = setup();
  const other = machine({ uuid: '99999999-0b5d-4e8f-9a7b-1c2d3e4f5a6b', name: 'node2', macs: ['52:54:00:00:00:02'], params: {} });
  data.machines.push(other);
  t.equal(await render('{{default params.root-password-hash "none"}}', 'x', m), '$6$secret-hash');
  t.equal(await render('{{default params.root-password-hash "none"}}', 'x', other), 'none');
  data.global['root-password-hash'] = '$6$global-secret';
  t.equal(await render('{{default params.root-password-hash "none"}}', 'x', null), 'none', 'unknown machines never see secure values');
});
