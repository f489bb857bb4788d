import t from 'tap';
import { makeHarness } from './harness.js';

t.test('GET /api/v1/info without auth', async (t) => {
  const { api } = await makeHarness(t);
  await api('POST', '/api/v1/machines', { body: { name: 'i1' } });
  const info = await api('GET', '/api/v1/info', { as: 'none' });
  t.equal(info.status, 200);
  t.match(info.body, { version: 'test', services: { http: { enabled: true }, dhcp: { enabled: false, port: 67 }, tftp: { port: 69 } }, counts: { machines: 1, profiles: 1 } });
  t.ok((info.body as { counts: { bootenvs: number } }).counts.bootenvs >= 3, 'shipped bootenvs counted');
  t.type((info.body as { uptime: number }).uptime, 'number');
});

t.test('spec and Swagger UI are served, offline', async (t) => {
  const { api } = await makeHarness(t);
  const yaml = await api('GET', '/openapi.yaml', { as: 'none' });
  t.equal(yaml.status, 200);
  t.match(yaml.headers['content-type'], /yaml/);
  t.match(yaml.text, /openapi: 3\.1\.0/);
  const bare = await api('GET', '/swagger', { as: 'none' });
  t.ok(bare.status === 200 || (bare.status >= 300 && bare.status < 400), `/swagger answers (${bare.status})`);
  const page = await api('GET', '/swagger/', { as: 'none' });
  t.equal(page.status, 200);
  t.match(page.text, /swagger-ui/i);
  for (const src of page.text.match(/(?:src|href)="([^"]+)"/g) ?? []) {
    const url = /"([^"]+)"/.exec(src)![1]!;
    t.notMatch(url, /^https?:/, `asset ${url} is local`);
  }
  const bundle = await api('GET', '/swagger/static/swagger-ui-bundle.js', { as: 'none' });
  t.equal(bundle.status, 200, 'Swagger UI bundle served from the package');
  const init = await api('GET', '/swagger/static/swagger-initializer.js', { as: 'none' });
  t.equal(init.status, 200);
  const json = await api('GET', '/swagger/json', { as: 'none' });
  t.match(JSON.parse(json.text), { openapi: '3.1.0' }, 'Swagger UI reads the shipped spec');
});

t.test('unknown routes answer with the error envelope', async (t) => {
  const { api } = await makeHarness(t);
  const res = await api('GET', '/api/v1/nothing', { as: 'none' });
  t.equal(res.status, 404);
  t.match(res.body, { code: 'NOT_FOUND', fieldErrors: [] });
});
