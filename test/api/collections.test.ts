import t from 'tap';
import { makeHarness } from './harness.js';

type Obj = Record<string, unknown>;

t.test('bootenvs: shipped read-only, create, references, in-use deletes', async (t) => {
  const { api } = await makeHarness(t);
  const list = await api('GET', '/api/v1/bootenvs');
  const names = (list.body as Obj[]).map((b) => b.name);
  t.ok(['ignore', 'local', 'discovery'].every((n) => names.includes(n)), 'ignore, local, discovery shipped');
  t.match((await api('GET', '/api/v1/bootenvs/local')).body, { readOnly: true, onlyUnknown: false, available: true });
  t.match((await api('GET', '/api/v1/bootenvs?onlyUnknown=true')).body, [{ name: 'discovery' }, { name: 'ignore' }]);
  const ro = await api('PUT', '/api/v1/bootenvs/local', { body: { name: 'local', description: 'mine' } });
  t.equal(ro.status, 403);
  t.match(ro.body, { code: 'FORBIDDEN', message: /read-only/ });
  t.equal((await api('DELETE', '/api/v1/bootenvs/ignore')).status, 403);
  t.equal((await api('PATCH', '/api/v1/bootenvs/local', { body: { description: 'x' } })).status, 403);
  t.equal((await api('POST', '/api/v1/bootenvs', { body: { name: 'local' } })).status, 409, 'name of a shipped bootenv is taken');

  const badTpl = await api('POST', '/api/v1/bootenvs', { body: { name: 'e1', templates: [{ name: 'ks', path: 'machines/{{uuid}}/ks', templateId: 'missing' }] } });
  t.equal(badTpl.status, 422);
  t.match(badTpl.body, { fieldErrors: [{ field: 'templates/0/templateId', message: /missing/ }] });
  const both = await api('POST', '/api/v1/bootenvs', { body: { name: 'e1', templates: [{ name: 'ks', path: 'p', templateId: 'a', contents: 'b' }] } });
  t.equal(both.status, 422);
  t.match(both.body, { fieldErrors: [{ field: 'templates/0', message: /exactly one/ }] });
  const badParse = await api('POST', '/api/v1/bootenvs', { body: { name: 'e1', bootParams: 'console={{#if x}}' } });
  t.equal(badParse.status, 422);
  t.match(badParse.body, { fieldErrors: [{ field: 'bootParams', message: /does not parse/ }] });

  t.equal((await api('POST', '/api/v1/templates', { body: { id: 'ks1', contents: 'url {{machine.name}}' } })).status, 201);
  const e1 = await api('POST', '/api/v1/bootenvs', { body: { name: 'e1', os: { name: 'debian', version: '12' }, kernel: 'linux', initrds: ['initrd.gz'], templates: [{ name: 'ks', path: 'machines/{{machine.uuid}}/ks', templateId: 'ks1' }] } });
  t.equal(e1.status, 201);
  t.match(e1.body, { name: 'e1', readOnly: false, available: true });
  const tplInUse = await api('DELETE', '/api/v1/templates/ks1');
  t.equal(tplInUse.status, 409);
  t.match(tplInUse.body, { message: /bootenvs\/e1/ });

  await api('POST', '/api/v1/machines', { body: { name: 'u1', bootenv: 'e1' } });
  const inUse = await api('DELETE', '/api/v1/bootenvs/e1');
  t.equal(inUse.status, 409, 'bootenv used by a machine');
  t.match(inUse.body, { code: 'CONFLICT', message: /machines\// });
  await api('PUT', '/api/v1/prefs', { body: { defaultBootEnv: 'e1' } });
  await api('DELETE', '/api/v1/machines/name:u1');
  const prefUse = await api('DELETE', '/api/v1/bootenvs/e1');
  t.equal(prefUse.status, 409, 'bootenv named by a pref');
  t.match(prefUse.body, { message: /prefs\/defaultBootEnv/ });
  await api('PUT', '/api/v1/prefs', { body: { defaultBootEnv: 'local' } });
  const patched = await api('PATCH', '/api/v1/bootenvs/e1', { body: [{ op: 'replace', path: '/kernel', value: 'vmlinuz' }], contentType: 'application/json-patch+json' });
  t.match(patched.body, { kernel: 'vmlinuz' });
  t.equal((await api('DELETE', '/api/v1/bootenvs/e1')).status, 200);
  t.equal((await api('GET', '/api/v1/bootenvs/e1')).status, 404);
});

t.test('templates: parse errors name the line; shipped are read-only', async (t) => {
  const { api } = await makeHarness(t);
  const bad = await api('POST', '/api/v1/templates', { body: { id: 't1', contents: 'line one\nline two {{#each x}}\n' } });
  t.equal(bad.status, 422);
  t.match(bad.body, { fieldErrors: [{ field: 'contents', message: /line \d/ }] });
  const created = await api('POST', '/api/v1/templates', { body: { id: 't1', contents: 'hello {{name}}' } });
  t.equal(created.status, 201);
  t.match(created.body, { id: 't1', readOnly: false });
  t.equal((await api('POST', '/api/v1/templates', { body: { id: 't1', contents: 'x' } })).status, 409);
  const put = await api('PUT', '/api/v1/templates/t1', { body: { contents: 'bye' } });
  t.match(put.body, { id: 't1', contents: 'bye' });
  const idMismatch = await api('PUT', '/api/v1/templates/t1', { body: { id: 't2', contents: 'bye' } });
  t.equal(idMismatch.status, 422);
  t.equal((await api('GET', '/api/v1/templates?readOnly=false')).headers['x-total-count'], '1');
  t.equal((await api('DELETE', '/api/v1/templates/t1')).status, 200);
  t.equal((await api('DELETE', '/api/v1/templates/t1')).status, 404);
});

t.test('profiles: global always exists; in-use delete; param values validated', async (t) => {
  const { api } = await makeHarness(t);
  t.match((await api('GET', '/api/v1/profiles/global')).body, { name: 'global' });
  const delGlobal = await api('DELETE', '/api/v1/profiles/global');
  t.equal(delGlobal.status, 409);
  t.match(delGlobal.body, { message: /global/ });
  await api('POST', '/api/v1/params', { body: { name: 'ntp/servers', schema: { type: 'array', items: { type: 'string', format: 'ipv4' } } } });
  const bad = await api('POST', '/api/v1/profiles', { body: { name: 'rack1', params: { 'ntp/servers': ['not-an-ip'] } } });
  t.equal(bad.status, 422);
  t.match(bad.body, { message: /ntp\/servers/, fieldErrors: [{ field: 'params/ntp/servers' }] });
  t.equal((await api('POST', '/api/v1/profiles', { body: { name: 'rack1', params: { 'ntp/servers': ['10.0.0.1'] } } })).status, 201);
  t.equal((await api('PUT', '/api/v1/profiles/rack1/params/ntp%2Fservers', { body: 'x' })).status, 422, 'single param set is validated');
  t.same((await api('PUT', '/api/v1/profiles/rack1/params/ntp%2Fservers', { body: ['10.0.0.2'] })).body, ['10.0.0.2']);
  t.same((await api('GET', '/api/v1/profiles/rack1/params/ntp%2Fservers')).body, ['10.0.0.2']);
  t.same((await api('PATCH', '/api/v1/profiles/rack1/params', { body: { extra: true }, contentType: 'application/merge-patch+json' })).body, { 'ntp/servers': ['10.0.0.2'], extra: true });
  t.same((await api('PUT', '/api/v1/profiles/rack1/params', { body: { only: 1 } })).body, { only: 1 });
  t.same((await api('GET', '/api/v1/profiles/rack1/params')).body, { only: 1 });
  t.equal((await api('GET', '/api/v1/profiles/rack1/params/nothere')).status, 404);
  t.match((await api('GET', '/api/v1/profiles?param.only=1')).body, [{ name: 'rack1' }]);
  await api('POST', '/api/v1/machines', { body: { name: 'pm', profiles: ['rack1'] } });
  const inUse = await api('DELETE', '/api/v1/profiles/rack1');
  t.equal(inUse.status, 409);
  t.match(inUse.body, { message: /machines\// });
  t.equal((await api('PATCH', '/api/v1/profiles/rack1', { body: { description: 'd' }, contentType: 'application/merge-patch+json' })).status, 200);
});

t.test('params: definitions with schemas', async (t) => {
  const { api } = await makeHarness(t);
  const badSchema = await api('POST', '/api/v1/params', { body: { name: 'p1', schema: { type: 'nonsense' } } });
  t.equal(badSchema.status, 422);
  t.match(badSchema.body, { fieldErrors: [{ field: 'schema' }] });
  const badDefault = await api('POST', '/api/v1/params', { body: { name: 'p1', schema: { type: 'integer', default: 'x' } } });
  t.equal(badDefault.status, 422);
  t.match(badDefault.body, { fieldErrors: [{ field: 'schema/default' }] });
  t.equal((await api('POST', '/api/v1/params', { body: { name: 'a/b/c', schema: { type: 'integer' }, secure: true } })).status, 201);
  t.match((await api('GET', '/api/v1/params/a%2Fb%2Fc')).body, { name: 'a/b/c', secure: true });
  t.match((await api('PATCH', '/api/v1/params/a%2Fb%2Fc', { body: { description: 'abc' }, contentType: 'application/merge-patch+json' })).body, { description: 'abc' });
  t.match((await api('PUT', '/api/v1/params/a%2Fb%2Fc', { body: { schema: { type: 'string' } } })).body, { schema: { type: 'string' }, secure: false });
  t.equal((await api('GET', '/api/v1/params?readOnly=false')).headers['x-total-count'], '1');
  t.equal((await api('DELETE', '/api/v1/params/a%2Fb%2Fc')).status, 200);
  t.equal((await api('GET', '/api/v1/params/a%2Fb%2Fc')).status, 404);
});

t.test('subnets: CIDR, range, overlap, lease times', async (t) => {
  const { api } = await makeHarness(t);
  const ok = await api('POST', '/api/v1/subnets', { body: { name: 'lab', cidr: '10.10.0.0/24', activeStart: '10.10.0.100', activeEnd: '10.10.0.200' } });
  t.equal(ok.status, 201);
  t.match(ok.body, { enabled: true, proxy: false, leaseTime: 3600, nextServer: null, options: [] });
  const defaults = await api('POST', '/api/v1/subnets', { body: { name: 'small', cidr: '10.20.0.0/29' } });
  t.match(defaults.body, { activeStart: '10.20.0.1', activeEnd: '10.20.0.6' }, 'range defaults to the hosts');
  const overlap = await api('POST', '/api/v1/subnets', { body: { name: 'o', cidr: '10.10.0.128/25' } });
  t.equal(overlap.status, 409);
  t.match(overlap.body, { message: /overlaps subnet lab/ });
  const hostBits = await api('POST', '/api/v1/subnets', { body: { name: 'h', cidr: '10.30.0.1/24' } });
  t.equal(hostBits.status, 422);
  t.match(hostBits.body, { fieldErrors: [{ field: 'cidr' }] });
  const outside = await api('POST', '/api/v1/subnets', { body: { name: 'x', cidr: '10.40.0.0/24', activeStart: '10.41.0.1', activeEnd: '10.40.0.9' } });
  t.equal(outside.status, 422);
  t.match(outside.body, { fieldErrors: [{ field: 'activeStart', message: /outside/ }] });
  const reversed = await api('POST', '/api/v1/subnets', { body: { name: 'x', cidr: '10.40.0.0/24', activeStart: '10.40.0.50', activeEnd: '10.40.0.10' } });
  t.equal(reversed.status, 422);
  t.match(reversed.body, { fieldErrors: [{ field: 'activeEnd', message: /before/ }] });
  const shortLease = await api('POST', '/api/v1/subnets', { body: { name: 'x', cidr: '10.40.0.0/24', leaseTime: 5 } });
  t.equal(shortLease.status, 422);
  t.match(shortLease.body, { fieldErrors: [{ field: '/leaseTime' }] });
  const badOpt = await api('POST', '/api/v1/subnets', { body: { name: 'x', cidr: '10.40.0.0/24', options: [{ code: 300, value: 'x' }] } });
  t.equal(badOpt.status, 422);
  const patched = await api('PATCH', '/api/v1/subnets/lab', { body: { enabled: false, options: [{ code: 6, value: '10.10.0.1' }] }, contentType: 'application/merge-patch+json' });
  t.match(patched.body, { enabled: false, options: [{ code: 6, value: '10.10.0.1' }] });
  t.match((await api('GET', '/api/v1/subnets?enabled=false')).body, [{ name: 'lab' }]);
  t.equal((await api('PUT', '/api/v1/subnets/lab', { body: { cidr: '10.0.0.0/8' } })).status, 409, 'a replace that overlaps is refused');
  t.equal((await api('DELETE', '/api/v1/subnets/small')).status, 200);
});

t.test('reservations and leases', async (t) => {
  const { api, services } = await makeHarness(t);
  const r = await api('POST', '/api/v1/reservations', { body: { address: '10.10.0.5', mac: '5254.0012.3456' } });
  t.equal(r.status, 201);
  t.match(r.body, { address: '10.10.0.5', mac: '52:54:00:12:34:56' });
  t.equal((await api('POST', '/api/v1/reservations', { body: { address: '10.10.0.6', mac: '52:54:00:12:34:56' } })).status, 409, 'one reservation per MAC');
  t.equal((await api('POST', '/api/v1/reservations', { body: { address: '10.10.0.7', mac: 'nope' } })).status, 422);
  t.match((await api('GET', '/api/v1/reservations?mac=52-54-00-12-34-56')).body, [{ address: '10.10.0.5' }]);
  t.match((await api('PATCH', '/api/v1/reservations/10.10.0.5', { body: { description: 'bmc' }, contentType: 'application/merge-patch+json' })).body, { description: 'bmc' });
  t.equal((await api('DELETE', '/api/v1/reservations/10.10.0.5')).status, 200);

  await services.store.putLease({ address: '10.10.0.100', mac: '52:54:00:aa:bb:cc', state: 'bound', expiresAt: new Date(Date.now() + 3600e3).toISOString(), subnet: 'lab', hostname: 'h1', clientId: null, updatedAt: new Date().toISOString() });
  const leases = await api('GET', '/api/v1/leases?state=bound');
  t.equal(leases.headers['x-total-count'], '1');
  t.match(leases.body, [{ address: '10.10.0.100', mac: '52:54:00:aa:bb:cc' }]);
  t.match((await api('GET', '/api/v1/leases/10.10.0.100')).body, { hostname: 'h1' });
  t.equal((await api('PUT', '/api/v1/leases/10.10.0.100', { body: {} })).status, 404, 'leases are read/delete only');
  t.equal((await api('DELETE', '/api/v1/leases/10.10.0.100')).status, 200);
  t.equal((await api('GET', '/api/v1/leases/10.10.0.100')).status, 404);
});

t.test('prefs', async (t) => {
  const { api } = await makeHarness(t);
  t.same((await api('GET', '/api/v1/prefs')).body, { defaultBootEnv: 'local', unknownBootEnv: 'ignore', autoRegister: false });
  const bad = await api('PUT', '/api/v1/prefs', { body: { defaultBootEnv: 'discovery', unknownBootEnv: 'local' } });
  t.equal(bad.status, 422);
  t.match(bad.body, { fieldErrors: [{ field: 'defaultBootEnv', message: /onlyUnknown/ }, { field: 'unknownBootEnv', message: /not onlyUnknown/ }] });
  t.equal((await api('PUT', '/api/v1/prefs', { body: { unknownBootEnv: 'nosuch' } })).status, 422);
  t.match((await api('PUT', '/api/v1/prefs', { body: { unknownBootEnv: 'discovery', site: 'ams1' } })).body, { unknownBootEnv: 'discovery', site: 'ams1', defaultBootEnv: 'local' });
  t.match((await api('PATCH', '/api/v1/prefs', { body: { site: null, autoRegister: true }, contentType: 'application/merge-patch+json' })).body, { autoRegister: true });
  t.notOk('site' in ((await api('GET', '/api/v1/prefs')).body as Obj), 'null removes a custom pref');
  const failedTest = await api('PATCH', '/api/v1/prefs', { body: [{ op: 'test', path: '/defaultBootEnv', value: 'other' }], contentType: 'application/json-patch+json' });
  t.equal(failedTest.status, 409);
  t.equal((await api('PUT', '/api/v1/prefs', { body: { autoRegister: 'yes' } })).status, 422);
});

t.test('shipped param definitions are read-only and apply', async (t) => {
  const { api } = await makeHarness(t);
  const list = (await api('GET', '/api/v1/params?readOnly=true')).body as { name: string }[];
  t.ok(list.length > 0, 'params from bootenvs/params/*.yaml are listed');
  const name = list[0]!.name;
  t.match((await api('GET', `/api/v1/params/${encodeURIComponent(name)}`)).body, { name, readOnly: true });
  t.equal((await api('PUT', `/api/v1/params/${encodeURIComponent(name)}`, { body: { schema: {} } })).status, 403);
  t.equal((await api('DELETE', `/api/v1/params/${encodeURIComponent(name)}`)).status, 403);
  t.equal((await api('POST', '/api/v1/params', { body: { name, schema: {} } })).status, 409);
});
