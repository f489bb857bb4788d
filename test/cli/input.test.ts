import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import t from 'tap';
import { UsageError } from '../../src/cli/failures.js';
import { parseAssignments, parseValue, readObject, readPatchOps } from '../../src/cli/input.js';

const noStdin = (): Readable => Readable.from([]);

t.test('documents come inline as JSON or YAML, from @file, a bare path, or stdin', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fcli-input-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const yamlFile = join(dir, 'machine.yaml');
  writeFileSync(yamlFile, 'name: web1\nmacs:\n  - 52:54:00:12:34:56\n');
  const jsonFile = join(dir, 'subnet.json');
  writeFileSync(jsonFile, '{"name":"lab","cidr":"10.10.0.0/24"}');

  t.same(await readObject('{"name":"web1"}', noStdin()), { name: 'web1' });
  t.same(await readObject('name: web1\nbootenv: local', noStdin()), { name: 'web1', bootenv: 'local' });
  t.same(await readObject('{name: web1, bootenv: local}', noStdin()), { name: 'web1', bootenv: 'local' }, 'YAML flow style');
  t.same(await readObject(`@${yamlFile}`, noStdin()), { name: 'web1', macs: ['52:54:00:12:34:56'] });
  t.same(await readObject(jsonFile, noStdin()), { name: 'lab', cidr: '10.10.0.0/24' });
  t.same(await readObject('-', Readable.from(['name: from-stdin\n'])), { name: 'from-stdin' });
});

t.test('bad documents are usage errors that say what is wrong', async (t) => {
  await t.rejects(readObject('{"name": "web1"', noStdin()), { name: 'UsageError', message: /invalid JSON in argument/ });
  await t.rejects(readObject('@/nonexistent/x.yaml', noStdin()), { message: /cannot read \/nonexistent\/x\.yaml: ENOENT/ });
  await t.rejects(readObject('web1.yaml', noStdin()), {
    message: /expected a JSON or YAML object from argument, got the string "web1.yaml" \(no file named "web1.yaml" exists either\)/,
  });
  await t.rejects(readObject('[1,2]', noStdin()), { message: /got an array/ });
  await t.rejects(readObject('-', Readable.from(['   \n'])), { message: /empty document from stdin/ });
  await t.rejects(readObject('key: [unclosed', noStdin()), UsageError);
});

t.test('JSON Patch documents must be arrays', async (t) => {
  t.same(await readPatchOps('[{"op":"replace","path":"/name","value":"x"}]', noStdin()), [
    { op: 'replace', path: '/name', value: 'x' },
  ]);
  await t.rejects(readPatchOps('{"name":"x"}', noStdin()), { message: /must be an array of operations, got a object/ });
});

t.test('command-line values are JSON when they parse, else strings', async (t) => {
  t.equal(parseValue('42'), 42);
  t.equal(parseValue('true'), true);
  t.same(parseValue('["a","b"]'), ['a', 'b']);
  t.equal(parseValue('"01234"'), '01234');
  t.equal(parseValue('10.0.0.1'), '10.0.0.1');
  t.equal(parseValue('hello world'), 'hello world');
});

t.test('key=value assignments split at the first =', async (t) => {
  t.same(parseAssignments(['bootenv=local', 'param.cmd=a=b'], 'a filter'), [
    ['bootenv', 'local'],
    ['param.cmd', 'a=b'],
  ]);
  t.throws(() => parseAssignments(['bootenv'], 'a filter'), { message: 'expected a filter as key=value, got "bootenv"' });
  t.throws(() => parseAssignments(['=x'], 'a pref'), UsageError);
});
