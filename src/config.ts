/**
 * Daemon configuration: command-line flags, FARRIER_* environment variables and an optional YAML file
 * (`--config`) merged into one typed Config. Precedence: flag > env > file > default.
 * The option table is exported so the CLI registers exactly these flags on `farrier serve`
 * (register them WITHOUT commander defaults, so an unset flag does not hide env or file values).
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { FarrierError } from './errors.js';

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';

export interface Config {
  dataDir: string;
  /** Directory holding the shipped read-only `bootenvs/` and `templates/`. */
  contentDir: string;
  httpPort: number;
  /** Address the HTTP server binds (all interfaces by default). */
  httpHost: string;
  tftpEnabled: boolean;
  tftpPort: number;
  dhcpEnabled: boolean;
  dhcpPort: number;
  dhcpClientPort: number;
  proxyDhcpPort: number;
  dhcpInterfaces: string[];
  staticIp: string | null;
  logLevel: LogLevel;
  logFormat: 'json' | 'pretty';
  strict: boolean;
  tftpBlockSizeMax: number;
  tftpWindowSizeMax: number;
  /** TFTP transfers in flight, all clients / one client address; RRQs over a cap are dropped (clients retry). */
  tftpMaxTransfers: number;
  tftpMaxTransfersPerClient: number;
  /** Loader file name → path on disk, overriding the discovered packaged loaders. */
  loaderPaths: Record<string, string>;
  /** Lifetime of user tokens from POST /api/v1/tokens, seconds. */
  tokenTtl: number;
  /** Lifetime of machine tokens minted for boot templates, seconds. */
  machineTokenTtl: number;
  /** Seconds tokens signed with the previous key stay valid after `farrier tokens rotate-key`. */
  tokenKeyGrace: number;
  /** PEM certificate (chain) for the API over HTTPS; with tlsKey, turns HTTPS on. */
  tlsCert: string | null;
  /** PEM private key of tlsCert. */
  tlsKey: string | null;
  /** HTTPS port for the API and Swagger UI when TLS is on (boot files stay on the plain HTTP port). */
  httpsPort: number;
  /** Require API credentials on GET /metrics (off: scrapers on the management network need none). */
  metricsAuth: boolean;
  /** Seconds SIGTERM waits for in-flight TFTP/HTTP transfers before closing. */
  shutdownGrace: number;
  /**
   * What an acknowledged write survives: `power` syncs the WAL after every group commit before acknowledging
   * it (off the event loop); `process` survives kill -9, crashes and OOM but not power loss (no sync).
   */
  durability: 'power' | 'process';
  /** MiB of boot files (loaders, kernels, initrds up to a quarter of it each) kept in memory for HTTP; 0 reads every request from disk. */
  bootFileCacheMb: number;
}

type OptionType = 'string' | 'port' | 'int' | 'boolean' | 'list' | 'map' | 'enum';

export interface OptionDef {
  key: keyof Config;
  /** Long flag name, e.g. `--http-port`. */
  flag: string;
  env: string;
  type: OptionType;
  choices?: readonly string[];
  default: Config[keyof Config];
  description: string;
}

/** The package root (openapi.yaml, package.json, shipped content): src/config.ts and dist/config.js both sit one level below it. */
export const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const def = <K extends keyof Config>(
  key: K,
  type: OptionType,
  dflt: Config[K],
  description: string,
  choices?: readonly string[],
): OptionDef => {
  const kebab = key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
  return { key, flag: `--${kebab}`, env: `FARRIER_${kebab.replace(/-/g, '_').toUpperCase()}`, type, default: dflt, description, choices };
};

export const configOptions: readonly OptionDef[] = [
  def('dataDir', 'string', './data', 'directory for the SQLite database, token key and boot files (created)'),
  def('contentDir', 'string', packageRoot, 'directory with the shipped read-only bootenvs/ and templates/'),
  def('httpPort', 'port', 8091, 'HTTP port: API under /api/v1, Swagger UI at /swagger, boot files at /'),
  def('httpHost', 'string', '0.0.0.0', 'address the HTTP server listens on'),
  def('tftpEnabled', 'boolean', true, 'serve TFTP'),
  def('tftpPort', 'port', 69, 'TFTP port'),
  def('dhcpEnabled', 'boolean', true, 'serve DHCP and proxyDHCP'),
  def('dhcpPort', 'port', 67, 'DHCP server port'),
  def('dhcpClientPort', 'port', 68, 'DHCP client port replies are sent to'),
  def('proxyDhcpPort', 'port', 4011, 'proxyDHCP (PXE) port'),
  def('dhcpInterfaces', 'list', [], 'comma-separated interfaces to serve DHCP on (default: all)'),
  def('staticIp', 'string', null, 'address advertised to machines (default: the address facing the client)'),
  def('logLevel', 'enum', 'info', 'log level', ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']),
  def('logFormat', 'enum', 'json', 'log format', ['json', 'pretty']),
  def('strict', 'boolean', false, 'exit when a service cannot bind its port (for systemd/Docker)'),
  def('tftpBlockSizeMax', 'int', 1468, 'largest TFTP blksize granted'),
  def('tftpWindowSizeMax', 'int', 16, 'largest TFTP windowsize granted'),
  def('tftpMaxTransfers', 'int', 1000, 'TFTP transfers in flight at once; further requests wait for the client to retry'),
  def('tftpMaxTransfersPerClient', 'int', 64, 'TFTP transfers in flight from one IP address'),
  def('loaderPaths', 'map', {}, 'loader overrides name=path[,name=path] (e.g. ipxe.efi=/srv/ipxe.efi)'),
  def('tokenTtl', 'int', 3600, 'lifetime of user API tokens in seconds'),
  def('machineTokenTtl', 'int', 3600, 'lifetime of machine tokens in seconds'),
  def('tokenKeyGrace', 'int', 3600, 'seconds tokens signed with the previous key stay valid after a key rotation'),
  def('tlsCert', 'string', null, 'PEM certificate file: serve the API and Swagger UI over HTTPS on --https-port'),
  def('tlsKey', 'string', null, 'PEM private key file for --tls-cert'),
  def('httpsPort', 'port', 8443, 'HTTPS port of the API when --tls-cert/--tls-key are set (boot files stay on --http-port)'),
  def('metricsAuth', 'boolean', false, 'require API credentials on GET /metrics'),
  def('shutdownGrace', 'int', 10, 'seconds SIGTERM waits for in-flight TFTP/HTTP transfers'),
  def('durability', 'enum', 'power', 'acknowledged writes survive power loss (power: WAL synced before each acknowledgement) or only process crashes and kill -9 (process)', ['power', 'process']),
  def('bootFileCacheMb', 'int', 256, 'MiB of boot files (loaders, kernels, initrds up to a quarter of it each) kept in memory for HTTP; 0 turns it off'),
];

const bad = (source: string, message: string): FarrierError =>
  new FarrierError('VALIDATION', `config: ${source}: ${message}`, [{ field: source, message }]);

function coerce(o: OptionDef, raw: unknown, source: string): Config[keyof Config] {
  if (raw === null && (o.key === 'staticIp' || o.key === 'tlsCert' || o.key === 'tlsKey')) return null;
  switch (o.type) {
    case 'string':
      if (typeof raw !== 'string' || raw === '') throw bad(source, 'must be a non-empty string');
      return raw;
    case 'enum':
      if (typeof raw !== 'string' || !o.choices?.includes(raw)) throw bad(source, `must be one of ${o.choices?.join(', ')}`);
      return raw;
    case 'port':
    case 'int': {
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\d+$/.test(raw.trim()) ? Number(raw) : NaN;
      const max = o.type === 'port' ? 65535 : Number.MAX_SAFE_INTEGER;
      if (!Number.isInteger(n) || n < 0 || n > max) throw bad(source, `must be an integer 0..${max}`);
      return n;
    }
    case 'boolean':
      if (typeof raw === 'boolean') return raw;
      if (typeof raw === 'string' && /^(1|true|yes|on)$/i.test(raw)) return true;
      if (typeof raw === 'string' && /^(0|false|no|off)$/i.test(raw)) return false;
      throw bad(source, 'must be true or false');
    case 'list':
      if (Array.isArray(raw)) return raw.map(String).filter((s) => s !== '');
      if (typeof raw === 'string') return raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
      throw bad(source, 'must be a list or comma-separated string');
    case 'map': {
      if (raw && typeof raw === 'object' && !Array.isArray(raw)) {
        return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, String(v)]));
      }
      const items = Array.isArray(raw) ? raw.map(String) : typeof raw === 'string' ? raw.split(',') : null;
      if (!items) throw bad(source, 'must be name=path pairs');
      const out: Record<string, string> = {};
      for (const item of items.map((s) => s.trim()).filter((s) => s !== '')) {
        const eq = item.indexOf('=');
        if (eq <= 0) throw bad(source, `"${item}" is not name=path`);
        out[item.slice(0, eq)] = item.slice(eq + 1);
      }
      return out;
    }
  }
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw bad('--config', `cannot read ${path}: ${(err as Error).message}`);
  }
  const doc: unknown = parseYaml(text);
  if (doc == null) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw bad('--config', `${path} must hold a YAML map`);
  const out: Record<string, unknown> = {};
  const known = new Map(configOptions.map((o) => [o.key.toLowerCase(), o.key]));
  for (const [k, v] of Object.entries(doc as Record<string, unknown>)) {
    const key = known.get(k.replace(/[-_]/g, '').toLowerCase());
    if (!key) throw bad(`--config ${path}`, `unknown key "${k}"`);
    out[key] = v;
  }
  return out;
}

/**
 * Build the Config. `flags` holds parsed flag values by config key (commander's camelCase names), plus an
 * optional `config` (path of a YAML file); unset flags must be absent or undefined.
 */
export function loadConfig(
  flags: Partial<Record<keyof Config | 'config', unknown>> = {},
  env: NodeJS.ProcessEnv = process.env,
): Config {
  const filePath = flags.config ?? env.FARRIER_CONFIG;
  const file = typeof filePath === 'string' && filePath !== '' ? readConfigFile(filePath) : {};
  const out: Record<string, unknown> = {};
  for (const o of configOptions) {
    let value: unknown = o.default;
    if (file[o.key] !== undefined) value = coerce(o, file[o.key], `${String(filePath)}: ${o.key}`);
    const envValue = env[o.env];
    if (envValue !== undefined && envValue !== '') value = coerce(o, envValue, o.env);
    if (flags[o.key] !== undefined) value = coerce(o, flags[o.key], o.flag);
    out[o.key] = value;
  }
  const config = out as unknown as Config;
  config.dataDir = resolve(config.dataDir);
  config.contentDir = resolve(config.contentDir);
  if ((config.tlsCert === null) !== (config.tlsKey === null)) {
    throw bad(config.tlsCert === null ? 'tlsCert' : 'tlsKey', 'HTTPS needs both --tls-cert and --tls-key (FARRIER_TLS_CERT, FARRIER_TLS_KEY)');
  }
  if (config.tlsCert !== null) config.tlsCert = resolve(config.tlsCert);
  if (config.tlsKey !== null) config.tlsKey = resolve(config.tlsKey);
  if (config.staticIp !== null && !/^(\d{1,3})(\.\d{1,3}){3}$/.test(config.staticIp)) {
    throw bad('staticIp', `"${config.staticIp}" is not an IPv4 address`);
  }
  return config;
}
