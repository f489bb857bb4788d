/**
 * Composition root: data dir → store → token key → shipped content → services → HTTPS API app (with TLS)
 * → HTTP app → protocol services (DHCP, TFTP, boot files: the `services` hook list) → graceful close on
 * SIGTERM/SIGINT.
 * A service that cannot bind is reported by one log line naming the port and the remedy and in
 * GET /api/v1/info; the rest keeps running unless --strict.
 */
import { constants } from 'node:fs';
import { access, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createSecureContext } from 'node:tls';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { Logger } from 'pino';
import type { ServiceStatus } from './api/info.js';
import type { MachineRenderer } from './api/render.js';
import { loadSpec } from './api/spec.js';
import { bootRoot } from './boot/index.js';
import { type AppOptions, buildApp, createLogger } from './app.js';
import { loadTokenKeyring } from './auth/tokens.js';
import { type Config, packageRoot } from './config.js';
import { loadRepoContent } from './core/content.js';
import { type Services, createServices } from './core/services.js';
import { FarrierError } from './errors.js';
import type { ExplainTree } from './explain/explain.js';
import { EventBus } from './events/bus.js';
import type { Store } from './store/store.js';
import { openSqliteStore } from './store/sqlite/index.js';

/** What the layers factory gets: everything that exists before the HTTP app is built. */
export interface LayerContext {
  config: Config;
  services: Services;
  bus: EventBus;
  logger: Logger;
}

/** What a protocol service gets when it starts (after HTTP listens). */
export interface DaemonContext extends LayerContext {
  app: FastifyInstance;
  /** The port HTTP really listens on (differs from config.httpPort when that is 0), for URLs handed to machines. */
  httpPort: number;
}

/** The protocol layers (DHCP, TFTP, boot files), built from the services once they exist. */
export interface DaemonLayers {
  services?: DaemonService[];
  httpPlugins?: FastifyPluginAsync[];
  loaders?: () => Record<string, unknown>;
  render?: MachineRenderer;
  /** The boot tree for GET /machines/{key}/explain. */
  explain?: ExplainTree;
  /** Called once HTTP listens, before the services start (e.g. to build what needs the real HTTP port). */
  listening?(ctx: DaemonContext): void;
  /** Called on close once the services have stopped, before the store closes (final writes). */
  close?(): Promise<void>;
}

/**
 * A protocol service (DHCP, proxyDHCP, TFTP …). `start` binds its sockets and resolves when listening; a
 * bind failure rejects with the socket error (code EACCES/EADDRINUSE), which the daemon reports.
 */
export interface DaemonService {
  name: string;
  /** Key in /api/v1/info `services` (dhcp, tftp …). */
  infoKey: string;
  port: number;
  /** Flag that changes the port, for the remedy text (e.g. `--tftp-port`). */
  portFlag: string;
  enabled: boolean;
  start(ctx: DaemonContext): Promise<void>;
  /** Stops accepting at once; work in flight (TFTP transfers) gets up to `graceMs` to finish. */
  stop(graceMs?: number): Promise<void>;
}

export interface DaemonOptions {
  /** DHCP/TFTP/… services, started in order after HTTP. The coordinator wires H-dhcp's and H-boot's here. */
  services?: DaemonService[];
  /** Fastify plugins registered after the API (boot files served at `/`). */
  httpPlugins?: FastifyPluginAsync[];
  /** Environment for FARRIER_ADMIN_PASSWORD (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Install SIGTERM/SIGINT handlers that close the daemon (default true). */
  handleSignals?: boolean;
  /** Log destination (default stdout). */
  logDestination?: NodeJS.WritableStream;
  /** Loader discovery results for /api/v1/info (filled by the boot layer). */
  loaders?: () => Record<string, unknown>;
  /** Factory form of the above, given the services (src/wiring/protocols.ts); its lists are added to them. */
  layers?: (ctx: LayerContext) => DaemonLayers;
}

export interface Daemon {
  config: Config;
  services: Services;
  app: FastifyInstance;
  logger: Logger;
  /** http://host:port of the API (the real port when --http-port 0). */
  url: string;
  /** https://host:port of the API when TLS is on (--tls-cert/--tls-key). */
  httpsUrl?: string;
  status(): Record<string, ServiceStatus>;
  close(): Promise<void>;
}

/**
 * The socket error code of a bind failure: on the error itself (node), in FarrierError.detail.errno (TFTP),
 * or inside the message of a wrapped error (DHCP sockets).
 */
function errnoOf(err: unknown): string | undefined {
  if (err instanceof FarrierError) {
    const errno = err.detail?.errno;
    if (typeof errno === 'string') return errno;
    return /\b(EACCES|EPERM|EADDRINUSE|EADDRNOTAVAIL)\b/.exec(err.message)?.[1];
  }
  return (err as NodeJS.ErrnoException).code;
}

/** One clear sentence for a bind failure: the port, the cause and what to do. */
export function describeBindError(err: unknown, service: string, port: number, portFlag: string): string {
  const code = errnoOf(err);
  if (code === 'EACCES' || code === 'EPERM') {
    const alt = port < 1024 ? String(port + (port === 69 ? 6900 : port === 67 ? 6700 : 8000)) : '<port>';
    return `${service}: port ${port} needs root or CAP_NET_BIND_SERVICE: run as root, \`setcap cap_net_bind_service=+ep $(which node)\`, or pass ${portFlag} ${alt}`;
  }
  if (code === 'EADDRINUSE') return `${service}: port ${port} is already in use (another farrier, dnsmasq or DHCP/TFTP server?): stop it or pass ${portFlag} <port>`;
  // A service that keeps a file in the data dir (DHCP's lock) on a read-only one: not a port problem.
  if (code === 'EROFS') return `${service}: cannot start: the data directory is read-only (${(err as Error).message})`;
  if (code === 'EADDRNOTAVAIL') return `${service}: cannot bind port ${port}: the address is not on this host; check the listen address`;
  return `${service}: cannot start on port ${port}: ${(err as Error).message}`;
}

async function writable(dir: string): Promise<boolean> {
  try {
    await access(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** The PEM certificate and key; a file that cannot be read stops the start with a message naming it. */
async function readTls(certPath: string, keyPath: string): Promise<{ cert: Buffer; key: Buffer }> {
  const read = async (path: string, flag: string): Promise<Buffer> => {
    try {
      return await readFile(path);
    } catch (err) {
      throw new FarrierError('VALIDATION', `${flag} ${path}: ${(err as Error).message}`);
    }
  };
  const tls = { cert: await read(certPath, '--tls-cert'), key: await read(keyPath, '--tls-key') };
  try {
    createSecureContext(tls);
  } catch (err) {
    throw new FarrierError('VALIDATION', `--tls-cert ${certPath} / --tls-key ${keyPath}: not a usable PEM certificate and key (${(err as Error).message})`);
  }
  return tls;
}

async function packageVersion(): Promise<string> {
  return (JSON.parse(await readFile(join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;
}

export async function startDaemon(config: Config, opts: DaemonOptions = {}): Promise<Daemon> {
  const env = opts.env ?? process.env;
  const logger = createLogger({ level: config.logLevel, format: config.logFormat }, opts.logDestination);
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  const store: Store = await openSqliteStore(join(config.dataDir, 'farrier.db'), { durability: config.durability });
  if (!(await writable(config.dataDir))) {
    // The store opened a read-only copy (store/sqlite/readOnly.ts): say once, up front, what that means.
    logger.warn(
      { dataDir: config.dataDir, reason: 'READ_ONLY' },
      `data directory ${config.dataDir} is read-only: serving reads and boot files; API writes (503) and new DHCP leases fail until it is writable and farrier restarts`,
    );
  }
  let app: FastifyInstance | undefined;
  let httpsApp: FastifyInstance | undefined;
  const started: DaemonService[] = [];
  try {
    const tokenKey = await loadTokenKeyring(config.dataDir, config.tokenKeyGrace);
    const content = await loadRepoContent(config.contentDir);
    const bus = new EventBus();
    const services = await createServices(store, bus, logger, { content, tokenKey, tokenTtl: config.tokenTtl, machineTokenTtl: config.machineTokenTtl });

    const admin = await services.users.bootstrapAdmin(env.FARRIER_ADMIN_PASSWORD);
    if (admin?.generated) {
      // The one place a secret is printed, on purpose: there is no other way to learn the first password.
      logger.warn(`first start: created user "admin" with password ${admin.password} — shown only this once; change it with PUT /api/v1/users/admin`);
    } else if (admin) {
      logger.info('first start: created user "admin" with the password from FARRIER_ADMIN_PASSWORD');
    }

    const statuses: { http: ServiceStatus; dhcp: ServiceStatus; tftp: ServiceStatus } & Record<string, ServiceStatus> = {
      http: { enabled: true, port: config.httpPort },
      dhcp: { enabled: false, port: config.dhcpPort },
      tftp: { enabled: false, port: config.tftpPort },
    };
    const fail = (key: string, message: string): void => {
      statuses[key] = { ...statuses[key]!, error: message };
      logger.error({ service: key, port: statuses[key]!.port }, message);
      if (config.strict) throw new Error(`${message} (--strict: exiting)`);
    };

    const layers = opts.layers?.({ config, services, bus, logger }) ?? {};
    const loaders = layers.loaders ?? opts.loaders ?? (() => ({}));
    const version = await packageVersion();
    const startedAt = Date.now();
    const appOptions: AppOptions = {
      services,
      logger,
      // The API contract ships with the code, whatever content directory is configured.
      spec: loadSpec(packageRoot),
      render: layers.render,
      explain: layers.explain,
      files: { bootRoot: bootRoot(config) },
      info: {
        version,
        startedAt,
        services: () => statuses,
        loaders,
      },
    };
    // With TLS the API and Swagger UI move to HTTPS (started first, so the plain app can name its port);
    // boot files, /metrics and machine-token callbacks stay on plain HTTP, which firmware needs.
    let httpsUrl: string | undefined;
    if (config.tlsCert !== null && config.tlsKey !== null) {
      statuses.https = { enabled: true, port: config.httpsPort };
      httpsApp = await buildApp({ ...appOptions, https: await readTls(config.tlsCert, config.tlsKey) });
      try {
        await httpsApp.listen({ port: config.httpsPort, host: config.httpHost });
        const addr = httpsApp.server.address();
        if (addr && typeof addr === 'object') {
          statuses.https.port = addr.port;
          httpsUrl = `https://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address === '0.0.0.0' ? '127.0.0.1' : addr.address}:${addr.port}`;
        }
        logger.info({ url: httpsUrl }, 'HTTPS API listening');
      } catch (err) {
        fail('https', describeBindError(err, 'HTTPS', config.httpsPort, '--https-port'));
      }
    }
    app = await buildApp({
      ...appOptions,
      plugins: [...(opts.httpPlugins ?? []), ...(layers.httpPlugins ?? [])],
      userApiOverHttpsOnly: httpsApp ? { httpsPort: statuses.https!.port } : undefined,
    });
    let url = `http://${config.httpHost}:${config.httpPort}`;
    try {
      // A boot storm opens connections faster than a busy event loop accepts them: with Node's default
      // backlog (511) a 1,000-machine storm overflowed the accept queue and reset connections.
      await app.listen({ port: config.httpPort, host: config.httpHost, backlog: 4096 });
      const addr = app.server.address();
      if (addr && typeof addr === 'object') {
        statuses.http.port = addr.port;
        url = `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address === '0.0.0.0' ? '127.0.0.1' : addr.address}:${addr.port}`;
      }
      logger.info({ url }, 'HTTP API listening');
    } catch (err) {
      fail('http', describeBindError(err, 'HTTP', config.httpPort, '--http-port'));
    }

    const ctx: DaemonContext = { config, services, bus, logger, app, httpPort: statuses.http.port };
    layers.listening?.(ctx);
    const protocolServices = [...(opts.services ?? []), ...(layers.services ?? [])];
    // what is configured shows at once; a service still waiting for its turn to bind is not "disabled"
    for (const svc of protocolServices) statuses[svc.infoKey] = { enabled: svc.enabled, port: svc.port };
    for (const svc of protocolServices) {
      if (!svc.enabled) continue;
      try {
        await svc.start(ctx);
        started.push(svc);
        // A service given port 0 knows its real port only once bound.
        statuses[svc.infoKey] = { enabled: true, port: svc.port };
        logger.info({ service: svc.name, port: svc.port }, `${svc.name} listening`);
      } catch (err) {
        fail(svc.infoKey, describeBindError(err, svc.name, svc.port, svc.portFlag));
      }
    }

    let closing: Promise<void> | undefined;
    const onSignal = (sig: NodeJS.Signals): void => {
      logger.info({ signal: sig }, 'shutting down');
      void daemon.close().then(() => process.exit(0), (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      });
    };
    const daemon: Daemon = {
      config,
      services,
      app,
      logger,
      url,
      httpsUrl,
      status: () => statuses,
      close: () => {
        closing ??= (async () => {
          if (opts.handleSignals !== false) {
            process.off('SIGTERM', onSignal);
            process.off('SIGINT', onSignal);
          }
          // DHCP closes first (started last), so no machine is sent towards a server that is going away;
          // TFTP and HTTP stop accepting at once and give transfers in flight the grace period together.
          const graceMs = config.shutdownGrace * 1000;
          const stopServices = (async () => {
            for (const svc of started.reverse()) {
              try {
                await svc.stop(graceMs);
              } catch (err) {
                logger.error({ err, service: svc.name }, 'service failed to stop cleanly');
              }
            }
          })();
          let graceTimer: NodeJS.Timeout | undefined;
          const httpClosed = Promise.all([app!.close(), httpsApp?.close()]);
          await Promise.race([httpClosed, new Promise((resolve) => (graceTimer = setTimeout(resolve, graceMs)))]);
          clearTimeout(graceTimer);
          // Past the grace period: cut the HTTP transfers still running.
          app!.server.closeAllConnections();
          httpsApp?.server.closeAllConnections();
          await Promise.all([httpClosed, stopServices]);
          try {
            await layers.close?.();
          } catch (err) {
            logger.error({ err }, 'protocol layers failed to close cleanly');
          }
          // Every lease and write is committed before the database closes.
          await store.close();
          logger.info('stopped');
        })();
        return closing;
      },
    };
    if (opts.handleSignals !== false) {
      process.once('SIGTERM', onSignal);
      process.once('SIGINT', onSignal);
    }
    return daemon;
  } catch (err) {
    await app?.close().catch(() => undefined);
    await httpsApp?.close().catch(() => undefined);
    for (const svc of started.reverse()) await svc.stop().catch(() => undefined);
    await store.close().catch(() => undefined);
    throw err;
  }
}
