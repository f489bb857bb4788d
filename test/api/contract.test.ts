import t from 'tap';
import { HTTP_METHODS, toFastifyPath } from '../../src/api/spec.js';
import { registeredRoutes } from '../../src/app.js';
import { makeHarness } from './harness.js';

t.test('server and openapi.yaml agree on the /api/v1 routes', async (t) => {
  const { app, spec } = await makeHarness(t);
  // Fastify adds a HEAD twin to every GET on its own; OpenAPI documents the GET.
  const server = new Set(registeredRoutes(app).filter((r) => r.url.startsWith('/api/v1')).filter((r) => r.method !== 'HEAD').map((r) => `${r.method} ${r.url}`));
  const documented = new Set<string>();
  for (const [path, ops] of Object.entries(spec.doc.paths)) {
    for (const m of HTTP_METHODS) if (ops[m]) documented.add(`${m.toUpperCase()} ${toFastifyPath(path)}`);
  }
  const undocumented = [...server].filter((r) => !documented.has(r));
  const unregistered = [...documented].filter((r) => !server.has(r));
  t.same(undocumented, [], 'every registered route is in openapi.yaml');
  t.same(unregistered, [], 'every spec operation is registered');
  t.ok(server.size >= 60, `${server.size} operations`);
});

t.test('the spec is well-formed and self-consistent', async (t) => {
  const { spec } = await makeHarness(t);
  t.equal(spec.doc.openapi, '3.1.0');
  const ids = new Set<string>();
  const text = JSON.stringify(spec.doc);
  for (const ref of text.match(/#\/components\/(schemas|responses)\/[A-Za-z]+/g) ?? []) {
    const [, , kind, name] = ref.split('/');
    t.ok((spec.doc.components as Record<string, Record<string, unknown>>)[kind!]![name!], `${ref} resolves`);
  }
  for (const ops of Object.values(spec.doc.paths)) {
    for (const op of Object.values(ops)) {
      t.notOk(ids.has(op.operationId), `operationId ${op.operationId} unique`);
      ids.add(op.operationId);
    }
  }
  t.match(spec.doc.components.schemas.UserWrite, { properties: { password: { writeOnly: true } } });
  t.match(spec.doc.components.schemas.MachineWrite, { properties: { uuid: { readOnly: true }, available: { readOnly: true } } });
  t.match(spec.doc.components.schemas.Error, { required: ['code', 'message', 'fieldErrors'] });
});
