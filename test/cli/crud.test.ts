import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { parse as parseYaml } from 'yaml';
import type { Machine, Subnet } from '../../src/model/types.js';
import { cli, cliJson, cliProcess, startLive } from './helpers/live.js';

const live = await startLive(t);
const files = mkdtempSync(join(tmpdir(), 'fcli-docs-'));
t.teardown(() => rmSync(files, { recursive: true, force: true }));

t.test('machine lifecycle: create, list, show by uuid/name/mac, update, patch, delete', async (t) => {
  const created = await cliJson<Machine>(t, live, ['machines', 'create', '{"name":"web1","macs":["52-54-00-AA-00-01"]}']);
  t.match(created, { name: 'web1', macs: ['52:54:00:aa:00:01'], bootenv: 'local' });
  t.match(created.uuid, /^[0-9a-f-]{36}$/);

  const list = await cliJson<Machine[]>(t, live, ['machines', 'list']);
  t.same(
    list.map((m) => m.name),
    ['web1'],
  );

  for (const key of [created.uuid, 'name:web1', 'mac:52:54:00:aa:00:01']) {
    const shown = await cliJson<Machine>(t, live, ['machines', 'show', key]);
    t.equal(shown.uuid, created.uuid, `show ${key}`);
  }

  const updated = await cliJson<Machine>(t, live, [
    'machines',
    'update',
    'name:web1',
    '{"name":"web1","macs":["52:54:00:aa:00:01","52:54:00:aa:00:02"],"description":"replaced"}',
  ]);
  t.same(updated.macs, ['52:54:00:aa:00:01', '52:54:00:aa:00:02']);
  t.equal(updated.description, 'replaced');

  const patched = await cliJson<Machine>(t, live, ['machines', 'patch', 'name:web1', 'description: merged']);
  t.equal(patched.description, 'merged');
  t.same(patched.macs, updated.macs, 'merge patch keeps the fields it does not name');

  const jsonPatched = await cliJson<Machine>(t, live, [
    'machines',
    'patch',
    'name:web1',
    '--json-patch',
    '[{"op":"replace","path":"/description","value":"json-patched"}]',
  ]);
  t.equal(jsonPatched.description, 'json-patched');

  const stale = await cli(live, [
    'machines',
    'patch',
    'name:web1',
    '--json-patch',
    JSON.stringify([
      { op: 'test', path: '/description', value: 'merged' },
      { op: 'replace', path: '/description', value: 'lost update' },
    ]),
  ]);
  t.equal(stale.code, 1, 'a failing JSON Patch test op is refused');
  t.match(stale.stderr, /CONFLICT, HTTP 409/);

  const deleted = await cliJson<Machine>(t, live, ['machines', 'delete', 'name:web1']);
  t.equal(deleted.uuid, created.uuid);
  const gone = await cli(live, ['machines', 'show', created.uuid]);
  t.equal(gone.code, 1);
  t.match(gone.stderr, /not found/);
  t.match(gone.stderr, /NOT_FOUND, HTTP 404/);
});

t.test('subnet lifecycle with documents from a YAML file, a bare path and stdin', async (t) => {
  const yamlPath = join(files, 'lab.yaml');
  writeFileSync(yamlPath, 'name: lab\ncidr: 10.10.0.0/24\nactiveStart: 10.10.0.100\nactiveEnd: 10.10.0.200\n');
  const created = await cliJson<Subnet>(t, live, ['subnets', 'create', `@${yamlPath}`]);
  t.match(created, { name: 'lab', cidr: '10.10.0.0/24', activeStart: '10.10.0.100', activeEnd: '10.10.0.200' });

  // A real process, so the document really comes through the process's stdin.
  const piped = await cliProcess(live, ['subnets', 'create', '-', '-o', 'json'], {
    stdin: '{"name":"storage","cidr":"10.20.0.0/24","activeStart":"10.20.0.10","activeEnd":"10.20.0.50"}',
  });
  t.equal(piped.code, 0, piped.stderr);
  const fromStdin = JSON.parse(piped.stdout) as Subnet;
  t.equal(fromStdin.name, 'storage');

  const putPath = join(files, 'lab-put.json');
  writeFileSync(
    putPath,
    JSON.stringify({ name: 'lab', cidr: '10.10.0.0/24', activeStart: '10.10.0.150', activeEnd: '10.10.0.250', enabled: false }),
  );
  const replaced = await cliJson<Subnet>(t, live, ['subnets', 'update', 'lab', putPath]);
  t.match(replaced, { activeStart: '10.10.0.150', activeEnd: '10.10.0.250', enabled: false });

  const patched = await cliJson<Subnet>(t, live, ['subnets', 'patch', 'lab', '-'], { stdin: 'enabled: true\n' });
  t.equal(patched.enabled, true);

  const shown = await cliJson<Subnet>(t, live, ['subnets', 'show', 'lab']);
  t.match(shown, { activeStart: '10.10.0.150', enabled: true });

  const exported = await cli(live, ['subnets', 'show', 'lab', '-o', 'yaml']);
  t.equal(exported.code, 0);
  const edited = exported.stdout.replace(/^description: .*$/m, 'description: edited from an exported YAML');
  const roundTrip = await cliJson<Subnet>(t, live, ['subnets', 'update', 'lab', '-'], { stdin: edited });
  t.equal(roundTrip.description, 'edited from an exported YAML', 'show -o yaml output is valid update input');
  t.equal(roundTrip.activeStart, '10.10.0.150');

  await cliJson(t, live, ['subnets', 'delete', 'storage']);
  const left = await cliJson<Subnet[]>(t, live, ['subnets', 'list']);
  t.same(
    left.map((s) => s.name),
    ['lab'],
  );
});

t.test('list filters (positional and --filter), limit, offset and sort', async (t) => {
  for (const [name, mac, arch] of [
    ['node-a', '52:54:00:bb:00:01', 'amd64'],
    ['node-b', '52:54:00:bb:00:02', 'arm64'],
    ['node-c', '52:54:00:bb:00:03', 'amd64'],
  ]) {
    await cliJson(t, live, ['machines', 'create', JSON.stringify({ name, macs: [mac], arch })]);
  }
  const amd = await cliJson<Machine[]>(t, live, ['machines', 'list', 'arch=amd64']);
  t.same(amd.map((m) => m.name).sort(), ['node-a', 'node-c']);
  const viaFlag = await cliJson<Machine[]>(t, live, ['machines', 'list', '--filter', 'arch=arm64']);
  t.same(
    viaFlag.map((m) => m.name),
    ['node-b'],
  );
  const page = await cliJson<Machine[]>(t, live, ['machines', 'list', '--sort', '-name', '--limit', '2', '--offset', '1']);
  t.same(
    page.map((m) => m.name),
    ['node-b', 'node-a'],
  );

  const table = await cli(live, ['machines', 'list', '--sort', 'name', '--limit', '1', '-o', 'table']);
  t.equal(table.code, 0);
  t.match(table.stdout, /^UUID\s+NAME\s+MACS\s+ADDRESS\s+BOOTENV\s+AVAILABLE\n[0-9a-f-]{36}\s+node-a\s+52:54:00:bb:00:01\s+-\s+local\s+\S+\n$/);
  t.match(table.stderr, /showing 1 of 3 machines/);
});

t.test('-o json, yaml and table all describe the same subnet', async (t) => {
  const json = await cli(live, ['subnets', 'show', 'lab', '-o', 'json']);
  const yaml = await cli(live, ['subnets', 'show', 'lab', '-o', 'yaml']);
  const table = await cli(live, ['subnets', 'list', '-o', 'table']);
  t.equal(json.code, 0);
  t.equal(yaml.code, 0);
  t.same(parseYaml(yaml.stdout), JSON.parse(json.stdout));
  t.match(table.stdout, /^NAME\s+CIDR\s+RANGE\s+PROXY\s+ENABLED\nlab\s+10\.10\.0\.0\/24\s+10\.10\.0\.150-10\.10\.0\.250\s+false\s+true\n$/);
  const plain = await cli(live, ['subnets', 'list']);
  t.equal(plain.code, 0);
  t.same(
    (JSON.parse(plain.stdout) as Subnet[]).map((s) => s.name),
    ['lab'],
    'stdout is not a terminal: JSON by default',
  );
});
