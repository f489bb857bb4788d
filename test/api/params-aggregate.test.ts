import t from 'tap';
import { makeHarness } from './harness.js';

t.test('aggregate params: machine → profiles in order → global → schema default, with sources', async (t) => {
  const { api, services } = await makeHarness(t);
  await api('POST', '/api/v1/params', { body: { name: 'console', schema: { type: 'string', default: 'ttyS0' } } });
  await api('POST', '/api/v1/params', { body: { name: 'root/password', schema: { type: 'string' }, secure: true } });
  await api('POST', '/api/v1/params', { body: { name: 'unset', schema: { type: 'integer' } } });
  await api('PUT', '/api/v1/profiles/global/params', { body: { ntp: 'global-ntp', dns: 'global-dns', rack: 'global-rack' } });
  await api('POST', '/api/v1/profiles', { body: { name: 'first', params: { rack: 'first-rack', 'root/password': 'secret' } } });
  await api('POST', '/api/v1/profiles', { body: { name: 'second', params: { rack: 'second-rack', dns: 'second-dns' } } });
  const m = (await api('POST', '/api/v1/machines', { body: { name: 'agg', profiles: ['first', 'second'], params: { ntp: 'own-ntp' } } })).body as { uuid: string };
  const agg = await api('GET', `/api/v1/machines/${m.uuid}/params?aggregate=true`);
  t.equal(agg.status, 200);
  const mine = Object.fromEntries(Object.entries(agg.body as Record<string, { source: string }>).filter(([k, v]) => v.source !== 'default' || k === 'console'));
  t.same(mine, {
    ntp: { value: 'own-ntp', source: 'machine', secure: false },
    rack: { value: 'first-rack', source: 'profile:first', secure: false },
    'root/password': { value: 'secret', source: 'profile:first', secure: true },
    dns: { value: 'second-dns', source: 'profile:second', secure: false },
    console: { value: 'ttyS0', source: 'default', secure: false },
  });
  t.same((await api('GET', `/api/v1/machines/${m.uuid}/params`)).body, { ntp: 'own-ntp' }, 'without aggregate: the machine\'s own map');
  t.same((await api('GET', `/api/v1/machines/${m.uuid}/params?aggregate=false`)).body, { ntp: 'own-ntp' });
  t.equal((await api('GET', `/api/v1/machines/${m.uuid}/params?aggregate=maybe`)).status, 400);
  // Reordering profiles changes who wins.
  await api('PATCH', `/api/v1/machines/${m.uuid}`, { body: { profiles: ['second', 'first'] }, contentType: 'application/merge-patch+json' });
  const again = (await api('GET', `/api/v1/machines/${m.uuid}/params?aggregate=true`)).body as Record<string, { value: unknown; source: string }>;
  t.same(again.rack, { value: 'second-rack', source: 'profile:second', secure: false });
  // The service view used by the boot layer carries the same information.
  const direct = await services.params.aggregate(await services.machines.get(m.uuid));
  t.equal(direct['root/password']?.secure, true);
  // Values are validated against the param schema on write, naming the param.
  const bad = await api('PUT', `/api/v1/machines/${m.uuid}/params/unset`, { body: 'seven' });
  t.equal(bad.status, 422);
  t.match(bad.body, { code: 'VALIDATION', message: /unset/, fieldErrors: [{ field: 'params/unset', message: /integer/ }] });
  const badPatch = await api('PATCH', `/api/v1/machines/${m.uuid}/params`, { body: [{ op: 'add', path: '/console', value: 5 }], contentType: 'application/json-patch+json' });
  t.equal(badPatch.status, 422);
  t.match(badPatch.body, { message: /console/ });
  t.equal((await api('GET', '/api/v1/machines/name:nobody/params')).status, 404);
});

t.test('concurrent param writers never lose updates', async (t) => {
  const { api } = await makeHarness(t);
  const m = (await api('POST', '/api/v1/machines', { body: { name: 'race' } })).body as { uuid: string };
  await Promise.all(Array.from({ length: 20 }, (_, i) => api('PUT', `/api/v1/machines/${m.uuid}/params/k${i}`, { body: i })));
  const params = (await api('GET', `/api/v1/machines/${m.uuid}/params`)).body as Record<string, number>;
  t.equal(Object.keys(params).length, 20, 'all 20 concurrent single-param writes are present');
});
