import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import t from 'tap';
import { loadConfig } from '../../src/config.js';
import { loadRepoContent } from '../../src/core/content.js';
import { startDaemon } from '../../src/daemon.js';
import { tempDir } from '../helpers/env.js';

const write = (dir: string, rel: string, text: string): void => {
  mkdirSync(join(dir, rel, '..'), { recursive: true });
  writeFileSync(join(dir, rel), text);
};

t.test('broken shipped content stops the start, naming the file', async (t) => {
  const dir = tempDir(t);
  write(dir, 'templates/bad.hbs', 'ok\n{{#if x}}\n');
  await t.rejects(loadRepoContent(dir), /templates\/bad\.hbs: does not parse/);
  const dir2 = tempDir(t);
  write(dir2, 'bootenvs/e.yaml', 'templates:\n  - name: a\n    path: a\n    templateId: nowhere\n');
  await t.rejects(loadRepoContent(dir2), /bootenvs\/e\.yaml: template "a" uses templateId "nowhere"/);
  const dir3 = tempDir(t);
  write(dir3, 'bootenvs/e.yaml', 'name: other\n');
  await t.rejects(loadRepoContent(dir3), /must match "e"/);
});

t.test('a custom content directory is served read-only; the API contract still loads', async (t) => {
  const content = tempDir(t);
  write(content, 'templates/hello.hbs', 'hello {{machine.name}}\n');
  write(content, 'bootenvs/custom.yaml', 'description: custom\ntemplates:\n  - name: hello\n    path: "machines/{{machine.uuid}}/hello"\n    templateId: hello\n');
  write(content, 'bootenvs/params/p.yaml', '- name: site\n  schema: { type: string, default: ams }\n');
  const sink = new Writable({ write(_c, _e, cb) { cb(); } });
  const d = await startDaemon(loadConfig({ dataDir: tempDir(t), contentDir: content, httpPort: 0, httpHost: '127.0.0.1' } as never, {}), { handleSignals: false, logDestination: sink, env: { FARRIER_ADMIN_PASSWORD: 'admin-pass-1' } });
  t.teardown(() => d.close());
  const headers = { authorization: `Basic ${Buffer.from('admin:admin-pass-1').toString('base64')}` };
  const envs = (await (await fetch(`${d.url}/api/v1/bootenvs`, { headers })).json()) as { name: string; readOnly: boolean }[];
  t.same(envs.map((e) => [e.name, e.readOnly]), [['custom', true]]);
  t.match(await (await fetch(`${d.url}/api/v1/params/site`, { headers })).json(), { readOnly: true, schema: { default: 'ams' } });
  t.equal((await fetch(`${d.url}/openapi.yaml`)).status, 200);
});
