/**
 * GET /api/v1/machines/{key}/render and `farrier render` against the whole daemon: both print exactly the
 * bytes the machine fetches over HTTP; a template error names machine, bootenv, template, line and param.
 */
import t from 'tap';
import { cli } from '../cli/helpers/live.js';
import { startWhole } from './helpers.js';

const MAC = '52:54:00:3b:00:01';

t.test('render endpoint and CLI print what the machine receives; render errors are precise', async (t) => {
  const w = await startWhole(t, { dhcpEnabled: false, tftpEnabled: false });
  const { api } = w;
  t.equal(
    (await api('POST', '/api/v1/bootenvs', {
      name: 'wire-render',
      os: { name: 'wire' },
      kernel: 'vmlinuz',
      initrds: ['initrd.img'],
      bootParams: 'ds=nocloud-net;s={{machine.url}}/',
      templates: [
        { name: 'user-data', path: 'machines/{{machine.uuid}}/user-data', contents: '#cloud-config\nhostname: {{machine.name}}\n' },
        { name: 'broken', path: 'machines/{{machine.uuid}}/broken', contents: 'first line\nrack: {{param "rack-row"}}\n' },
      ],
    })).status,
    201,
  );
  const m = (await api('POST', '/api/v1/machines', { name: 'render1', macs: [MAC], bootenv: 'wire-render' })).body as { uuid: string };

  const viaApi = await api('GET', `/api/v1/machines/name:render1/render?path=${encodeURIComponent('52-54-00-3b-00-01.ipxe')}`);
  t.equal(viaApi.status, 200);
  const viaHttp = await (await fetch(`${w.daemon.url}/52-54-00-3b-00-01.ipxe`)).text();
  t.equal(viaApi.text, viaHttp, 'the API renders exactly what HTTP serves');
  t.match(viaApi.text, `ds=nocloud-net;s=${w.daemon.url}/machines/${m.uuid}/`);

  const userData = await api('GET', `/api/v1/machines/${m.uuid}/render?path=user-data`);
  t.equal(userData.text, '#cloud-config\nhostname: render1\n', 'a relative path is the machine\'s own file');

  const env = { FARRIER_ENDPOINT: w.daemon.url };
  const printed = await cli({ endpoint: w.daemon.url }, ['render', 'name:render1', '52-54-00-3b-00-01.ipxe'], { env });
  t.equal(printed.code, 0, printed.stderr);
  t.equal(printed.stdout, viaHttp, '`farrier render` prints the same file');
  t.equal((await cli({ endpoint: w.daemon.url }, ['render', `mac:${MAC}`, 'user-data'], { env })).stdout, userData.text);

  const failed = await api('GET', `/api/v1/machines/${m.uuid}/render?path=broken`);
  t.equal(failed.status, 422);
  const err = failed.body as { code: string; message: string; detail: Record<string, unknown> };
  t.equal(err.code, 'RENDER');
  t.match(err.message, /machine render1 .*bootenv wire-render, template .*broken.* line 2: .*rack-row/, 'the message names machine, bootenv, template, line and param');
  t.match(err.detail, { machine: m.uuid, bootenv: 'wire-render', line: 2, missing: 'rack-row' });
  const cliFailed = await cli({ endpoint: w.daemon.url }, ['render', 'name:render1', 'broken'], { env });
  t.equal(cliFailed.code, 1, 'the CLI exits non-zero');
  t.match(cliFailed.stderr, /line 2: .*rack-row/, 'and prints the render error');
  t.equal((await fetch(`${w.daemon.url}/machines/${m.uuid}/broken`)).status, 500, 'HTTP serves the same failure as a 500');

  t.equal((await api('GET', '/api/v1/machines/name:nobody/render?path=ipxe')).status, 404, 'unknown machine → 404');
  t.equal((await api('GET', `/api/v1/machines/${m.uuid}/render?path=nothing-here`)).status, 404, 'nothing at that path → 404');
  t.equal((await api('GET', `/api/v1/machines/${m.uuid}/render`)).status, 400, 'path is required');
  await api('POST', '/api/v1/users', { name: 'viewer', role: 'readonly', password: 'viewer-pass-1' });
  const asViewer = await fetch(`${w.daemon.url}/api/v1/machines/${m.uuid}/render?path=user-data`, { headers: { authorization: `Basic ${Buffer.from('viewer:viewer-pass-1').toString('base64')}` } });
  t.equal(asViewer.status, 403, 'read-only users may not render (the output holds secrets and a machine token)');
});

t.test('bootenv configInitrd is kept, validated and served as the machine\'s cpio', async (t) => {
  const w = await startWhole(t, { dhcpEnabled: false, tftpEnabled: false });
  const { api } = w;
  const env = {
    name: 'wire-cpio',
    os: { name: 'wire' },
    kernel: 'vmlinuz',
    templates: [{ name: 'hostname', path: 'machines/{{machine.uuid}}/hostname', contents: '{{machine.name}}\n' }],
    configInitrd: [{ path: 'etc/hostname', template: 'hostname', mode: 420 }],
  };
  const created = await api('POST', '/api/v1/bootenvs', env);
  t.equal(created.status, 201);
  t.same((created.body as { configInitrd: unknown }).configInitrd, env.configInitrd, 'configInitrd is stored and returned');
  const bad = await api('POST', '/api/v1/bootenvs', { ...env, name: 'wire-cpio-bad', configInitrd: [{ path: 'etc/x', template: 'nope' }] });
  t.equal(bad.status, 422);
  t.match(JSON.stringify(bad.body), /configInitrd\/0\/template/, 'an unknown template name is named');
  t.equal((await api('POST', '/api/v1/bootenvs', { ...env, name: 'wire-cpio-mode', configInitrd: [{ path: 'etc/x', template: 'hostname', mode: 5000 }] })).status, 422, 'mode is bounded by the spec');

  const m = (await api('POST', '/api/v1/machines', { name: 'cpio1', macs: ['52:54:00:3b:00:02'], bootenv: 'wire-cpio' })).body as { uuid: string };
  const cpio = Buffer.from(await (await fetch(`${w.daemon.url}/machines/${m.uuid}/config.cpio`)).arrayBuffer());
  t.equal(cpio.subarray(0, 6).toString(), '070701', 'a newc cpio archive');
  t.ok(cpio.includes(Buffer.from('etc/hostname\0')) && cpio.includes(Buffer.from('cpio1\n')), 'holding the rendered file');
  t.match((await api('GET', `/api/v1/machines/${m.uuid}/render?path=ipxe`)).text, `initrd ${w.daemon.url}/machines/${m.uuid}/config.cpio`, 'and appended to the initrds');
});
