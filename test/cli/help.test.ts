import { PassThrough, Readable } from 'node:stream';
import type { Command } from 'commander';
import t from 'tap';
import type { Io } from '../../src/cli/context.js';
import { buildProgram, run } from '../../src/cli/program.js';

function capture(): { io: Io; out: () => string; err: () => string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  stderr.on('data', (c: Buffer) => (err += c.toString()));
  return { io: { stdout, stderr, stdin: Readable.from([]), isTTY: false }, out: () => out, err: () => err };
}

/** Every command path in the tree, e.g. ['machines', 'param', 'set']. */
function paths(cmd: Command, prefix: string[] = []): string[][] {
  return cmd.commands.flatMap((sub) => {
    const here = [...prefix, sub.name()];
    return [here, ...paths(sub, here)];
  });
}

const all = paths(buildProgram(capture().io));

t.test('the tree has the documented commands', async (t) => {
  const names = all.map((p) => p.join(' '));
  for (const coll of ['machines', 'bootenvs', 'templates', 'profiles', 'params', 'subnets', 'reservations', 'users']) {
    for (const verb of ['list', 'show', 'create', 'update', 'patch', 'delete']) t.ok(names.includes(`${coll} ${verb}`), `${coll} ${verb}`);
  }
  t.same(
    names.filter((n) => n.startsWith('leases ')),
    ['leases list', 'leases show', 'leases delete'],
    'leases are read and delete only',
  );
  for (const n of [
    'machines bootenv',
    'machines params',
    'machines param get',
    'machines param set',
    'machines param delete',
    'profiles params',
    'profiles param set',
    'prefs get',
    'prefs set',
    'info',
    'tokens create',
    'events watch',
    'serve',
  ]) {
    t.ok(names.includes(n), n);
  }
});

t.test('every command has help with a usage line and examples', async (t) => {
  for (const path of all) {
    const c = capture();
    const code = await run([...path, '--help'], c.io);
    t.equal(code, 0, `${path.join(' ')} --help exits 0`);
    t.match(c.out(), /^Usage: farrier /, `${path.join(' ')} has a usage line`);
    t.match(c.out(), /\nExamples:\n\s+\$ (farrier|cat|export|FARRIER_)/, `${path.join(' ')} has examples`);
  }
});

t.test('farrier --help lists the commands, global flags, exit codes and examples', async (t) => {
  const c = capture();
  t.equal(await run(['--help'], c.io), 0);
  const help = c.out();
  for (const flag of ['-E, --endpoint <url>', '-U, --user <name>', '-P, --password <password>', '-T, --token <token>', '-o, --output <format>']) {
    t.ok(help.includes(flag), flag);
  }
  for (const env of ['FARRIER_ENDPOINT', 'FARRIER_USER', 'FARRIER_PASSWORD', 'FARRIER_TOKEN']) t.ok(help.includes(env), env);
  t.match(help, /Exit codes: 0 ok, 1 the API refused the request, 2 usage error, 3 cannot reach the daemon/);
  t.match(help, /\$ farrier machines bootenv name:web1 discovery/);
});

t.test('serve help shows every daemon flag with its env var and default', async (t) => {
  const c = capture();
  t.equal(await run(['serve', '--help'], c.io), 0);
  const help = c.out().replace(/\s+/g, ' ');
  for (const [flag, env, dflt] of [
    ['--data-dir <value>', 'FARRIER_DATA_DIR', './data'],
    ['--http-port <value>', 'FARRIER_HTTP_PORT', '8091'],
    ['--tftp-port <value>', 'FARRIER_TFTP_PORT', '69'],
    ['--dhcp-port <value>', 'FARRIER_DHCP_PORT', '67'],
    ['--static-ip <value>', 'FARRIER_STATIC_IP', 'none'],
    ['--strict [bool]', 'FARRIER_STRICT', 'false'],
  ]) {
    t.ok(help.includes(flag), flag);
    t.ok(help.includes(`env ${env}, default ${dflt}`), `${flag}: env ${env}, default ${dflt}`);
  }
  t.ok(help.includes('--no-dhcp-enabled'), 'booleans can be negated');
});

t.test('usage errors exit 2 with a message and a pointer to --help', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [['bogus'], /unknown command 'bogus'/],
    [['machines', 'show'], /missing required argument 'key'/],
    [['machines', 'list', '--limit', 'ten'], /--limit must be a non-negative integer, got "ten"/],
    [['-o', 'xml', 'machines', 'list'], /argument 'xml' is invalid. Allowed choices are json, yaml, table/],
    [['leases', 'create', '{}'], /unknown command 'create'/],
    [['machines', 'create', 'not-a-file.yaml'], /expected a JSON or YAML object from argument/],
    [['-E', 'not a url', 'machines', 'list'], /invalid endpoint "not a url"/],
    [['serve', '--http-port', 'eighty'], /--http-port: must be an integer 0..65535/],
  ];
  for (const [argv, message] of cases) {
    const c = capture();
    t.equal(await run(argv, c.io), 2, `${argv.join(' ')} exits 2`);
    t.match(c.err(), message, `${argv.join(' ')}: message`);
  }
});
