/**
 * `farrier serve`: runs the daemon in this process. Its flags come from the daemon's own option table
 * (src/config.ts), registered without commander defaults so unset flags leave env and --config values alone.
 * The daemon module is imported only when `serve` runs, so client commands do not load the server stack.
 */
import { Command, Option } from 'commander';
import { configOptions, loadConfig, type Config, type OptionDef } from '../../config.js';
import type { Io } from '../context.js';
import { UsageError } from '../failures.js';

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

function optionFor(o: OptionDef): Option[] {
  const dflt = describeDefault(o.default);
  const help = `${o.description} (env ${o.env}, default ${dflt})`;
  switch (o.type) {
    case 'boolean':
      return [
        new Option(`${o.flag} [bool]`, `${help}`).preset('true'),
        new Option(`--no-${o.flag.slice(2)}`, `same as ${o.flag} false`),
      ];
    case 'list':
    case 'map':
      return [new Option(`${o.flag} <items>`, `${help}; repeatable`).argParser(collect)];
    case 'enum':
      return [new Option(`${o.flag} <value>`, help).choices(o.choices ?? [])];
    default:
      return [new Option(`${o.flag} <value>`, help)];
  }
}

function describeDefault(v: OptionDef['default']): string {
  if (v === null) return 'none';
  if (Array.isArray(v)) return v.length > 0 ? v.join(',') : 'none';
  if (typeof v === 'object') return Object.keys(v).length > 0 ? JSON.stringify(v) : 'none';
  return String(v);
}

export function serveCommand(io: Io): Command {
  const cmd = new Command('serve')
    .description('run the Farrier daemon (DHCP, TFTP, HTTP boot files and the REST API) in the foreground')
    .option('-c, --config <file>', 'YAML file with the same keys as the flags (env FARRIER_CONFIG)');
  for (const o of configOptions) for (const opt of optionFor(o)) cmd.addOption(opt);
  cmd.addHelpText(
    'after',
    `
Precedence: flag > FARRIER_* environment variable > --config file > default. On first start with no users,
user "admin" is created with the password in FARRIER_ADMIN_PASSWORD (or a random one, logged once).
Stop with Ctrl-C or SIGTERM; the daemon closes its listeners before exiting.

Examples:
  $ farrier serve --data-dir /var/lib/farrier
  $ FARRIER_ADMIN_PASSWORD=changeme farrier serve --http-port 9000 --log-format pretty
  $ farrier serve --no-dhcp-enabled --tftp-port 6969      # API and boot files only, unprivileged
  $ npm start -- --http-port 9000`,
  );
  cmd.action(async (opts: Record<string, unknown>) => {
    const flags: Partial<Record<keyof Config | 'config', unknown>> = { config: opts.config };
    for (const o of configOptions) flags[o.key] = opts[o.key];
    let config: Config;
    try {
      config = loadConfig(flags);
    } catch (err) {
      throw new UsageError(err instanceof Error ? err.message : String(err));
    }
    const [{ startDaemon }, { protocolLayers }] = await Promise.all([import('../../daemon.js'), import('../../wiring/protocols.js')]);
    // The CLI owns the process, so it handles the signals: close the daemon, then let main exit.
    const daemon = await startDaemon(config, { handleSignals: false, layers: protocolLayers() });
    await new Promise<void>((resolve) => {
      let stopping = false;
      const stop = (signal: NodeJS.Signals): void => {
        if (stopping) {
          io.stderr.write(`received ${signal} again, exiting now\n`);
          process.exit(130);
        }
        stopping = true;
        daemon.close().then(resolve, (err: unknown) => {
          io.stderr.write(`error while stopping: ${err instanceof Error ? err.message : String(err)}\n`);
          process.exitCode = 1;
          resolve();
        });
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
  });
  return cmd;
}
