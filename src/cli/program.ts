/**
 * Assembles the `farrier` command tree and runs it, turning every failure into a message on stderr and an
 * exit code: 0 ok, 1 the API refused (4xx/5xx), 2 bad command line, 3 daemon unreachable.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { COLLECTIONS } from './collections.js';
import { collectionCommand } from './commands/crud.js';
import { eventsCommand } from './commands/events.js';
import { filesCommand } from './commands/files.js';
import { infoCommand } from './commands/info.js';
import { addFetchIsoCommand, isosCommand } from './commands/isos.js';
import { addMachineCommands } from './commands/machines.js';
import { addParamCommands } from './commands/params.js';
import { prefsCommand } from './commands/prefs.js';
import { renderCommand } from './commands/render.js';
import { explainCommand } from './commands/explain.js';
import { labCommand } from './commands/lab.js';
import { serveCommand } from './commands/serve.js';
import { tokensCommand } from './commands/tokens.js';
import type { Io } from './context.js';
import { ApiError, CliFailure, EXIT_USAGE } from './failures.js';
import { OUTPUT_FORMATS } from './output.js';

export const DEFAULT_ENDPOINT = 'http://127.0.0.1:8091';

function packageVersion(): string {
  // src/cli/program.ts and dist/cli/program.js both sit two levels below package.json.
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
  return pkg.version ?? '0.0.0';
}

const ROOT_HELP = `
Connection: -E/--endpoint (FARRIER_ENDPOINT), -U/--user and -P/--password (FARRIER_USER, FARRIER_PASSWORD)
or -T/--token (FARRIER_TOKEN); --ca-cert (FARRIER_CA_CERT) for an https:// endpoint. Output: -o json|yaml|table (table on a terminal, json otherwise).
Documents for create/update/patch: inline JSON or YAML, @file or a file path, or - for stdin.
Exit codes: 0 ok, 1 the API refused the request, 2 usage error, 3 cannot reach the daemon.

Examples:
  $ FARRIER_ADMIN_PASSWORD=changeme farrier serve --data-dir ./data
  $ export FARRIER_USER=admin FARRIER_PASSWORD=changeme
  $ farrier subnets create '{"name":"lab","cidr":"10.10.0.0/24","activeStart":"10.10.0.100","activeEnd":"10.10.0.200"}'
  $ farrier machines create '{"name":"web1","macs":["52:54:00:12:34:56"]}'
  $ farrier machines list bootenv=local
  $ farrier machines bootenv name:web1 discovery
  $ farrier machines params name:web1 --aggregate
  $ farrier prefs set unknownBootEnv=discovery
  $ farrier events watch --type machines

Run \`farrier <command> --help\` for each command's options and examples.`;

export function buildProgram(io: Io): Command {
  const program = new Command('farrier')
    .description('Farrier bare-metal provisioning: run the daemon and manage it over its REST API')
    .version(packageVersion(), '-V, --version', 'print the CLI version')
    .addOption(
      new Option('-E, --endpoint <url>', 'daemon URL').env('FARRIER_ENDPOINT').default(DEFAULT_ENDPOINT),
    )
    .addOption(new Option('-U, --user <name>', 'user for Basic auth').env('FARRIER_USER'))
    .addOption(new Option('-P, --password <password>', 'password for Basic auth').env('FARRIER_PASSWORD'))
    .addOption(new Option('-T, --token <token>', 'bearer token (from `farrier tokens create`)').env('FARRIER_TOKEN'))
    .addOption(new Option('--ca-cert <file>', 'PEM CA certificate to trust for an https:// endpoint (e.g. a self-signed one)').env('FARRIER_CA_CERT'))
    .addOption(
      new Option('-o, --output <format>', 'output format (default: table on a terminal, else json)').choices(
        OUTPUT_FORMATS,
      ),
    )
    .exitOverride()
    .configureOutput({
      writeOut: (s) => void io.stdout.write(s),
      writeErr: (s) => void io.stderr.write(s),
    })
    .showHelpAfterError('(add --help for usage and examples)')
    .addHelpText('after', ROOT_HELP);

  for (const coll of COLLECTIONS) {
    const group = collectionCommand(coll, io);
    if (coll.name === 'machines') {
      addMachineCommands(group, io);
      addParamCommands(group, { coll: 'machines', noun: 'machine', keyHelp: coll.keyHelp, exampleKey: coll.exampleKey }, io);
    }
    if (coll.name === 'bootenvs') addFetchIsoCommand(group, io);
    if (coll.name === 'profiles') {
      addParamCommands(group, { coll: 'profiles', noun: 'profile', keyHelp: coll.keyHelp, exampleKey: 'rack4' }, io);
    }
    program.addCommand(group);
  }
  program.addCommand(prefsCommand(io));
  program.addCommand(infoCommand(io));
  program.addCommand(renderCommand(io));
  program.addCommand(explainCommand(io));
  program.addCommand(tokensCommand(io));
  program.addCommand(eventsCommand(io));
  program.addCommand(filesCommand(io));
  program.addCommand(isosCommand(io));
  program.addCommand(serveCommand(io));
  program.addCommand(labCommand(io));
  inheritSettings(program, io);
  return program;
}

/** Commands built with `new Command()` do not inherit the root's settings; apply them through the tree. */
function inheritSettings(cmd: Command, io: Io): void {
  for (const sub of cmd.commands) {
    sub
      .exitOverride()
      .configureOutput({ writeOut: (s) => void io.stdout.write(s), writeErr: (s) => void io.stderr.write(s) })
      .showHelpAfterError('(add --help for usage and examples)');
    inheritSettings(sub, io);
  }
}

export function formatFailure(err: CliFailure): string {
  if (!(err instanceof ApiError)) return `Error: ${err.message}\n`;
  const lines = [`Error: ${err.message} (${err.code}, HTTP ${err.status})`];
  for (const fe of err.fieldErrors) lines.push(fe.field ? `  ${fe.field}: ${fe.message}` : `  ${fe.message}`);
  for (const [k, v] of Object.entries(err.detail ?? {})) {
    lines.push(`  ${k}: ${Array.isArray(v) ? v.join(', ') : typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
  }
  if (err.status === 401) lines.push('  (give credentials with -U/-P, -T, or FARRIER_USER/FARRIER_PASSWORD/FARRIER_TOKEN)');
  return lines.join('\n') + '\n';
}

/** Runs the CLI on `argv` (without node and script) and returns the exit code. */
export async function run(argv: string[], io: Io): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander has already printed its message (or the help text).
      return err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? 0 : EXIT_USAGE;
    }
    if (err instanceof CliFailure) {
      io.stderr.write(formatFailure(err));
      return err.exitCode;
    }
    // Anything else (a daemon that fails to start under --strict, a bug) still ends with one clear line.
    io.stderr.write(`Error: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}
