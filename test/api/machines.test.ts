import t from 'tap';
import { makeHarness } from './harness.js';

interface M { uuid: string; name: string; macs: string[]; bootenv: string; available: boolean; errors: string[]; params: Record<string, unknown>; version: number; address: string | null }

t.test('machines CRUD, lookups, validation', async (t) => {
  const { api } = await makeHarness(t);
  const created = await api('POST', '/api/v1/machines', { body: { name: 'n1', macs: ['AA-BB-CC-DD-EE-01', 'aabb.ccdd.ee02'] } });
  t.equal(created.status, 201);
  const m = created.body as M;
  t.match(m.uuid, /^[0-9a-f-]{36}$/, 'uuid assigned by the server');
  t.same(m.macs, ['aa:bb:cc:dd:ee:01', 'aa:bb:cc:dd:ee:02'], 'MACs normalised');
  t.equal(m.bootenv, 'local', 'default bootenv from prefs');
  t.equal(m.available, true);
  t.notOk('tokenSecret' in (m as object), 'token secret never returned');

  t.equal((await api('GET', `/api/v1/machines/${m.uuid}`)).status, 200);
  t.equal(((await api('GET', '/api/v1/machines/name:n1')).body as M).uuid, m.uuid, 'lookup by name:');
  t.equal(((await api('GET', '/api/v1/machines/mac:AABBCCDDEE02')).body as M).uuid, m.uuid, 'lookup by mac: in any spelling');
  const missing = await api('GET', '/api/v1/machines/name:nope');
  t.equal(missing.status, 404);
  t.match(missing.body, { code: 'NOT_FOUND', message: /nope/ });

  const dupMac = await api('POST', '/api/v1/machines', { body: { name: 'n2', macs: ['aa:bb:cc:dd:ee:01'] } });
  t.equal(dupMac.status, 409, 'MAC unique across machines');
  t.match(dupMac.body, { code: 'CONFLICT', message: /aa:bb:cc:dd:ee:01/ });
  t.equal((await api('POST', '/api/v1/machines', { body: { name: 'n1' } })).status, 409, 'name unique');

  const badMac = await api('POST', '/api/v1/machines', { body: { name: 'n3', macs: ['zz:bb:cc:dd:ee:ff'] } });
  t.equal(badMac.status, 422);
  t.match(badMac.body, { code: 'VALIDATION', fieldErrors: [{ field: 'macs/0' }] });
  const badField = await api('POST', '/api/v1/machines', { body: { name: 'n3', colour: 'red' } });
  t.equal(badField.status, 422);
  t.match(badField.body, { fieldErrors: [{ field: '/colour', message: /not a known field/ }] }, 'unknown field named');
  const badAddr = await api('POST', '/api/v1/machines', { body: { name: 'n3', address: '10.0.0.256' } });
  t.equal(badAddr.status, 422);
  t.match(badAddr.body, { message: /address/ });
  const badEnv = await api('POST', '/api/v1/machines', { body: { name: 'n3', bootenv: 'nosuch' } });
  t.equal(badEnv.status, 422);
  t.match(badEnv.body, { fieldErrors: [{ field: 'bootenv', message: /nosuch/ }] });
  const unknownOnly = await api('POST', '/api/v1/machines', { body: { name: 'n3', bootenv: 'discovery' } });
  t.equal(unknownOnly.status, 422, 'onlyUnknown bootenv refused for a known machine');
  const badProfile = await api('POST', '/api/v1/machines', { body: { name: 'n3', profiles: ['nope'] } });
  t.equal(badProfile.status, 422);
  t.match(badProfile.body, { fieldErrors: [{ field: 'profiles/0' }] });
  const badJson = await api('POST', '/api/v1/machines', { payload: '{"name": ', contentType: 'application/json' });
  t.equal(badJson.status, 400);
  t.match(badJson.body, { code: 'BAD_REQUEST' });
  const wrongType = await api('POST', '/api/v1/machines', { payload: 'name=x', contentType: 'application/x-www-form-urlencoded' });
  t.equal(wrongType.status, 415);
  t.match(wrongType.body, { code: 'UNSUPPORTED_MEDIA_TYPE' });
  const textType = await api('POST', '/api/v1/machines', { payload: 'x', contentType: 'text/plain' });
  t.equal(textType.status, 415);

  // PUT replaces; a stale version is refused.
  const put = await api('PUT', `/api/v1/machines/${m.uuid}`, { body: { name: 'n1', macs: ['aa:bb:cc:dd:ee:01'], description: 'rack 1', version: m.version } });
  t.equal(put.status, 200);
  t.same((put.body as M).macs, ['aa:bb:cc:dd:ee:01']);
  const stale = await api('PUT', `/api/v1/machines/${m.uuid}`, { body: { name: 'n1', version: m.version } });
  t.equal(stale.status, 409, 'stale version → 409');
  t.equal((await api('PUT', '/api/v1/machines/name:nobody', { body: { name: 'x' } })).status, 404);

  // DELETE returns the object.
  const del = await api('DELETE', `/api/v1/machines/${m.uuid}`);
  t.equal(del.status, 200);
  t.equal((del.body as M).uuid, m.uuid);
  t.equal((await api('DELETE', `/api/v1/machines/${m.uuid}`)).status, 404);
});

t.test('machines PATCH: merge patch and JSON patch with test', async (t) => {
  const { api } = await makeHarness(t);
  const m = (await api('POST', '/api/v1/machines', { body: { name: 'p1', params: { a: 1, b: 2 } } })).body as M;
  const merged = await api('PATCH', `/api/v1/machines/${m.uuid}`, { body: { description: 'x', params: { a: null, c: 3 } }, contentType: 'application/merge-patch+json' });
  t.equal(merged.status, 200);
  t.same((merged.body as M).params, { b: 2, c: 3 }, 'merge patch: null removes, objects merge');
  const v = (merged.body as M).version;
  const jp = await api('PATCH', `/api/v1/machines/${m.uuid}`, {
    body: [{ op: 'test', path: '/version', value: v }, { op: 'add', path: '/macs/-', value: '52:54:00:00:00:01' }],
    contentType: 'application/json-patch+json',
  });
  t.equal(jp.status, 200);
  t.same((jp.body as M).macs, ['52:54:00:00:00:01']);
  const failed = await api('PATCH', `/api/v1/machines/${m.uuid}`, {
    body: [{ op: 'test', path: '/version', value: v }, { op: 'replace', path: '/description', value: 'lost' }],
    contentType: 'application/json-patch+json',
  });
  t.equal(failed.status, 409, 'failing test op → 409');
  t.match(failed.body, { code: 'CONFLICT', message: /test failed/ });
  t.equal(((await api('GET', `/api/v1/machines/${m.uuid}`)).body as { description: string }).description, 'x', 'nothing applied');
  const badOp = await api('PATCH', `/api/v1/machines/${m.uuid}`, { body: [{ op: 'remove', path: '/nothere' }], contentType: 'application/json-patch+json' });
  t.equal(badOp.status, 422);
  const uuidChange = await api('PATCH', `/api/v1/machines/${m.uuid}`, { body: { uuid: '00000000-0000-4000-8000-000000000000' }, contentType: 'application/merge-patch+json' });
  t.equal(uuidChange.status, 422, 'uuid is immutable');
  const plain = await api('PATCH', `/api/v1/machines/${m.uuid}`, { body: { description: 'plain json' } });
  t.equal((plain.body as { description: string }).description, 'plain json', 'application/json object = merge patch');
  const xml = await api('PATCH', `/api/v1/machines/${m.uuid}`, { payload: 'description=x', contentType: 'application/x-www-form-urlencoded' });
  t.equal(xml.status, 415);
});

t.test('machines list: filters, paging, sort, X-Total-Count', async (t) => {
  const { api } = await makeHarness(t);
  await api('POST', '/api/v1/bootenvs', { body: { name: 'other', description: 'x' } });
  for (let i = 1; i <= 5; i++) {
    await api('POST', '/api/v1/machines', { body: { name: `m${i}`, macs: [`52:54:00:00:00:0${i}`], bootenv: i <= 2 ? 'other' : 'local', params: { rack: i % 2 ? 'r1' : 'r2' } } });
  }
  const all = await api('GET', '/api/v1/machines');
  t.equal(all.headers['x-total-count'], '5');
  t.equal((all.body as M[]).length, 5);
  const page = await api('GET', '/api/v1/machines?limit=2&offset=1&sort=-name');
  t.same((page.body as M[]).map((m) => m.name), ['m4', 'm3']);
  t.equal(page.headers['x-total-count'], '5', 'total before paging');
  const byEnv = await api('GET', '/api/v1/machines?bootenv=other');
  t.same((byEnv.body as M[]).map((m) => m.name).sort(), ['m1', 'm2']);
  t.equal(byEnv.headers['x-total-count'], '2');
  const byMac = await api('GET', '/api/v1/machines?mac=52-54-00-00-00-03');
  t.same((byMac.body as M[]).map((m) => m.name), ['m3']);
  const byParam = await api('GET', '/api/v1/machines?param.rack=r2');
  t.same((byParam.body as M[]).map((m) => m.name).sort(), ['m2', 'm4']);
  const badField = await api('GET', '/api/v1/machines?colour=red');
  t.equal(badField.status, 400);
  t.match(badField.body, { message: /colour/ });
  const badLimit = await api('GET', '/api/v1/machines?limit=-1');
  t.equal(badLimit.status, 400);
  t.match(badLimit.body, { code: 'BAD_REQUEST', message: /limit/ });
});

t.test('bootenv assignment: JSON and form-encoded, required params', async (t) => {
  const { api } = await makeHarness(t);
  await api('POST', '/api/v1/params', { body: { name: 'install/disk', schema: { type: 'string' } } });
  await api('POST', '/api/v1/bootenvs', { body: { name: 'debian-install', requiredParams: ['install/disk', 'hostname'] } });
  const m = (await api('POST', '/api/v1/machines', { body: { name: 'b1', params: { hostname: 'b1' } } })).body as M;
  const missing = await api('POST', `/api/v1/machines/${m.uuid}/bootenv`, { body: { bootenv: 'debian-install' } });
  t.equal(missing.status, 422);
  t.match(missing.body, { code: 'VALIDATION', message: /install\/disk/, fieldErrors: [{ field: 'params/install/disk' }] });
  t.notMatch((missing.body as { message: string }).message, /hostname/, 'only the missing ones are listed');
  await api('PUT', `/api/v1/machines/${m.uuid}/params/install%2Fdisk`, { body: '/dev/sda' });
  const ok = await api('POST', `/api/v1/machines/${m.uuid}/bootenv`, { body: { bootenv: 'debian-install' } });
  t.equal(ok.status, 200);
  t.equal((ok.body as M).bootenv, 'debian-install');
  const form = await api('POST', `/api/v1/machines/name:b1/bootenv`, { payload: 'bootenv=local', contentType: 'application/x-www-form-urlencoded' });
  t.equal(form.status, 200, 'wget --post-data bootenv=local works');
  t.equal((form.body as M).bootenv, 'local');
  const none = await api('POST', `/api/v1/machines/${m.uuid}/bootenv`, { body: { bootenv: 'nosuch' } });
  t.equal(none.status, 422);
  const empty = await api('POST', `/api/v1/machines/${m.uuid}/bootenv`, { body: {} });
  t.equal(empty.status, 422);
  t.match(empty.body, { fieldErrors: [{ field: '/bootenv', message: 'is required' }] });
  t.equal((await api('POST', '/api/v1/machines/name:zz/bootenv', { body: { bootenv: 'local' } })).status, 404);
  // A machine that loses a required param stays but is not available, and says why.
  await api('POST', `/api/v1/machines/${m.uuid}/bootenv`, { body: { bootenv: 'debian-install' } });
  const del = await api('DELETE', `/api/v1/machines/${m.uuid}/params/hostname`);
  t.equal(del.status, 200);
  t.equal(del.body, 'b1', 'DELETE of a param value returns it');
  const after = (await api('GET', `/api/v1/machines/${m.uuid}`)).body as M;
  t.equal(after.available, false);
  t.match(after.errors, [/requires params hostname/]);
});
