import t from 'tap';
import { HTTP_METHODS } from '../../src/api/spec.js';
import { makeHarness } from './harness.js';

t.test('every operation: 401 without credentials, 403 for roles lacking the right', async (t) => {
  const { api, spec } = await makeHarness(t);
  for (const [path, ops] of Object.entries(spec.doc.paths)) {
    for (const m of HTTP_METHODS) {
      const op = ops[m];
      if (!op) continue;
      const url = path.replace(/\{[^}]+\}/g, 'x');
      const method = m.toUpperCase();
      const body = op.requestBody ? {} : undefined;
      if (op.security?.length === 0) {
        t.equal((await api(method, url, { as: 'none' })).status, 200, `${method} ${path} is public`);
        continue;
      }
      t.equal((await api(method, url, { as: 'none', body })).status, 401, `${method} ${path} without credentials → 401`);
      if (path.startsWith('/api/v1/users')) t.equal((await api(method, url, { as: 'operator', body })).status, 403, `${method} ${path} as operator → 403`);
      if (method !== 'GET' && path !== '/api/v1/tokens') t.equal((await api(method, url, { as: 'reader', body })).status, 403, `${method} ${path} as readonly → 403`);
    }
  }
});

t.test('the remaining item routes: happy path and 404', async (t) => {
  const { api } = await makeHarness(t);
  await api('POST', '/api/v1/subnets', { body: { name: 'net', cidr: '10.5.0.0/24' } });
  t.match((await api('GET', '/api/v1/subnets/net')).body, { name: 'net', cidr: '10.5.0.0/24' });
  t.equal((await api('GET', '/api/v1/subnets/none')).status, 404);

  await api('POST', '/api/v1/reservations', { body: { address: '10.5.0.9', mac: '52:54:00:09:09:09' } });
  t.match((await api('GET', '/api/v1/reservations/10.5.0.9')).body, { mac: '52:54:00:09:09:09' });
  t.match((await api('PUT', '/api/v1/reservations/10.5.0.9', { body: { mac: '52-54-00-09-09-0A', nextServer: '10.5.0.1' } })).body, { mac: '52:54:00:09:09:0a', nextServer: '10.5.0.1' });
  t.equal((await api('PUT', '/api/v1/reservations/10.5.0.10', { body: { mac: '52:54:00:09:09:0b' } })).status, 404, 'PUT does not create');

  await api('POST', '/api/v1/templates', { body: { id: 'tt', contents: 'a' } });
  t.match((await api('GET', '/api/v1/templates/tt')).body, { id: 'tt', contents: 'a' });
  t.match((await api('PATCH', '/api/v1/templates/tt', { body: { contents: '{{b}}' }, contentType: 'application/merge-patch+json' })).body, { contents: '{{b}}' });
  t.equal((await api('PATCH', '/api/v1/templates/tt', { body: { contents: '{{#if}}' }, contentType: 'application/merge-patch+json' })).status, 422, 'patch result must parse');
  t.equal((await api('GET', '/api/v1/templates/none')).status, 404);

  await api('POST', '/api/v1/profiles', { body: { name: 'pp', params: { a: 1, b: 2 } } });
  t.match((await api('PUT', '/api/v1/profiles/pp', { body: { name: 'pp', description: 'replaced' } })).body, { description: 'replaced', params: {} });
  await api('PUT', '/api/v1/profiles/pp/params/k', { body: 'v' });
  t.same((await api('DELETE', '/api/v1/profiles/pp/params/k')).body, 'v');
  t.equal((await api('DELETE', '/api/v1/profiles/pp/params/k')).status, 404);
  t.equal((await api('PUT', '/api/v1/profiles/none', { body: { name: 'none' } })).status, 404);

  const m = (await api('POST', '/api/v1/machines', { body: { name: 'mm' } })).body as { uuid: string };
  t.same((await api('PUT', `/api/v1/machines/${m.uuid}/params`, { body: { x: [1, 2] } })).body, { x: [1, 2] });
  t.same((await api('GET', `/api/v1/machines/${m.uuid}/params/x`)).body, [1, 2]);
  t.equal((await api('GET', `/api/v1/machines/${m.uuid}/params/y`)).status, 404);
  t.equal((await api('PUT', `/api/v1/machines/${m.uuid}/params`, { body: [1] })).status, 422, 'params must be an object');
});
