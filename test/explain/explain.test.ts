/**
 * GET /api/v1/machines/{key}/explain on a whole daemon: the DHCP answer per firmware kind, the loader, the
 * rendered script, the files it points at (existing or not), the installer configs, missing params and
 * render errors; a machine booting local; an unknown MAC under both unknownBootEnv settings. Every
 * report is checked against openapi.yaml.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { loadSpec } from '../../src/api/spec.js';
import type { Explanation } from '../../src/explain/explain.js';
import { ResponseChecker, repoRoot } from '../api/harness.js';
import { tempDir } from '../helpers/env.js';
import { startWhole } from '../wiring/helpers.js';

const MAC = '52:54:00:e8:00:01';
const checker = new ResponseChecker(loadSpec(repoRoot).doc);

t.test('explain', async (t) => {
  const dataDir = tempDir(t, 'fexp-');
  mkdirSync(join(dataDir, 'files', 'expos'), { recursive: true });
  writeFileSync(join(dataDir, 'files', 'expos', 'vmlinuz'), Buffer.alloc(1000, 1));
  const w = await startWhole(t, { dataDir, dhcpEnabled: false, tftpEnabled: false });
  const { api } = w;
  const http = w.daemon.status().http.port;
  const explain = async (key: string, query = ''): Promise<Explanation> => {
    const path = `/api/v1/machines/${key}/explain${query}`;
    const res = await api('GET', path);
    t.equal(res.status, 200, `${path}: ${res.text.slice(0, 200)}`);
    t.same(checker.check('GET', path, res.status, res.headers.get('content-type') ?? undefined, res.body), [], `${path} matches the spec`);
    return res.body as Explanation;
  };

  t.equal((await api('POST', '/api/v1/bootenvs', {
    name: 'exp-install',
    os: { name: 'expos' },
    kernel: 'vmlinuz',
    initrds: ['initrd.gz'],
    bootParams: 'auto url={{machine.url}}/preseed.cfg',
    templates: [{ name: 'preseed', path: '{{machine.path}}/preseed.cfg', contents: 'd-i netcfg/get_hostname string {{machine.name}}\n' }],
  })).status, 201);
  t.equal((await api('POST', '/api/v1/params', { name: 'exp/disk', schema: { type: 'string' } })).status, 201);
  t.equal((await api('POST', '/api/v1/bootenvs', {
    name: 'exp-needs', os: { name: 'expos' }, kernel: 'vmlinuz', initrds: [], bootParams: 'disk={{param "exp/disk"}}',
  })).status, 201);
  const m = (await api('POST', '/api/v1/machines', { name: 'exp1', macs: [MAC], bootenv: 'exp-install' })).body as { uuid: string };

  await t.test('a machine in an installer bootenv, BIOS PXE', async (t) => {
    const r = await explain('name:exp1');
    t.match(r.machine, { uuid: m.uuid, name: 'exp1', bootenv: 'exp-install' });
    t.match(r.dhcp.stages, [
      { stage: 'firmware', sendBootOptions: true, file: 'undionly.kpxe', option60: 'PXEClient', reason: 'BIOS PXE: chain to iPXE' },
      { stage: 'ipxe', sendBootOptions: true, file: `http://127.0.0.1:${http}/boot.ipxe`, request: { userClass: 'iPXE' } },
    ], 'the firmware gets iPXE, iPXE gets the boot script');
    const served = (await fetch(`${w.daemon.url}/undionly.kpxe`)).status === 200;
    t.match(r.loader, { path: 'undionly.kpxe', from: 'loader', exists: served, ...(served ? { kind: 'file' } : {}) }, 'the loader exists exactly when the boot tree serves it');
    t.equal(r.script?.text, (await api('GET', `/api/v1/machines/${m.uuid}/render?path=52-54-00-e8-00-01.ipxe`)).text, 'the script is what the render endpoint gives');
    t.match(r.script, { path: '52-54-00-e8-00-01.ipxe', exists: true, kind: 'rendered', text: new RegExp(`kernel http://127\\.0\\.0\\.1:${http}/expos/vmlinuz initrd=initrd.gz auto url=`) });
    const byPath = new Map(r.files.map((f) => [f.path, f]));
    t.match(byPath.get('expos/vmlinuz'), { exists: true, kind: 'file', size: 1000, from: 'script' }, 'the kernel exists');
    t.match(byPath.get('expos/initrd.gz'), { exists: false, from: 'script' }, 'the initrd does not');
    t.match(byPath.get(`machines/${m.uuid}/preseed.cfg`), { exists: true, kind: 'rendered', text: 'd-i netcfg/get_hostname string exp1\n' }, 'the installer config, rendered');
    t.ok(r.problems.some((p) => /expos\/initrd\.gz \(script\) does not exist/.test(p)), 'the missing initrd is a problem');
  });

  await t.test('each firmware kind', async (t) => {
    const file = (r: Explanation) => r.dhcp.stages.map((s) => s.file);
    t.same(file(await explain(`mac:${MAC}`, '?arch=uefi')), ['ipxe.efi', `http://127.0.0.1:${http}/boot.ipxe`], 'x86 UEFI');
    t.same(file(await explain(`mac:${MAC}`, '?arch=arm64')), ['ipxe-arm64.efi', `http://127.0.0.1:${http}/boot.ipxe`], 'arm64 UEFI');
    const httpBoot = await explain(`mac:${MAC}`, '?arch=http');
    t.match(httpBoot.dhcp.stages[0], { file: `http://127.0.0.1:${http}/ipxe.efi`, option60: 'HTTPClient' }, 'UEFI HTTP boot gets a URL');
    t.match(httpBoot.loader, { path: 'ipxe.efi', url: `http://127.0.0.1:${http}/ipxe.efi` });
    const ipxe = await explain(`mac:${MAC}`, '?ipxe=true');
    t.same(file(ipxe), [`http://127.0.0.1:${http}/boot.ipxe`], '--ipxe: one stage, straight to the script');
    t.match(ipxe.script, { path: '52-54-00-e8-00-01.ipxe', exists: true });
  });

  await t.test('a missing param: named, and the render error reported', async (t) => {
    t.equal((await api('POST', `/api/v1/machines/${m.uuid}/bootenv`, { bootenv: 'exp-needs' })).status, 200);
    // Required only after the machine was assigned: the API refuses the assignment the other way round.
    t.equal((await api('PATCH', '/api/v1/bootenvs/exp-needs', { requiredParams: ['exp/disk'] }, 'application/merge-patch+json')).status, 200);
    const r = await explain(m.uuid);
    t.ok(r.problems.some((p) => /requires params exp\/disk/.test(p)), 'the missing required param');
    t.match(r.script, { exists: false, error: /exp\/disk/ }, 'the script fails to render');
    t.ok(r.problems.some((p) => /render error in 52-54-00-e8-00-01\.ipxe/.test(p)));
  });

  await t.test('a machine booting local gets no boot file', async (t) => {
    t.equal((await api('POST', `/api/v1/machines/${m.uuid}/bootenv`, { bootenv: 'local' })).status, 200);
    const r = await explain(m.uuid);
    t.match(r.dhcp.stages, [{ sendBootOptions: false, reason: 'bootenv local does not netboot', file: '' }]);
    t.equal(r.loader, null);
    t.equal(r.script, null);
    t.ok(r.problems.includes('DHCP sends no boot file: bootenv local does not netboot'));
  });

  await t.test('an unknown MAC follows pref unknownBootEnv', async (t) => {
    const stranger = '52:54:00:e8:00:99';
    const ignored = await explain(`mac:${stranger}`);
    t.equal(ignored.machine, null);
    t.match(ignored.dhcp.stages, [{ sendBootOptions: false, reason: 'unknown machine and unknownBootEnv is ignore' }]);
    t.match(ignored.problems[0], /no machine has MAC 52:54:00:e8:00:99/);
    t.equal((await api('PATCH', '/api/v1/prefs', { unknownBootEnv: 'discovery' }, 'application/merge-patch+json')).status, 200);
    const discovered = await explain(stranger);
    t.match(discovered.bootenv, { name: 'discovery' });
    t.match(discovered.dhcp.stages, [{ file: 'undionly.kpxe' }, { stage: 'ipxe' }]);
    t.match(discovered.script, { path: '52-54-00-e8-00-99.ipxe', kind: 'rendered' }, 'the unknown machine\'s script');
    t.equal((await api('GET', '/api/v1/machines/name:nobody/explain')).status, 404, 'an unknown machine name is 404');
  });
});
