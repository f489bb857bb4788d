/**
 * The HTTP application: logger, body parsers and error envelope first, then the spec and Swagger UI, then
 * the API routes over the services, then any later layer's plugins (boot files at `/`).
 * Secrets never reach the log: request logs carry method/URL/status only, and the logger redacts
 * Authorization headers, passwords, password hashes, tokens and token secrets wherever they appear.
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import swaggerUi from '@fastify/swagger-ui';
import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';
import { parse as parseYaml } from 'yaml';
import { Authenticator } from './auth/authenticate.js';
import type { Services } from './core/services.js';
import { MAX_PARAM_LENGTH, frameworkErrors, installErrorHandling } from './api/errors.js';
import { registerEvents } from './api/events.js';
import { registerExplain } from './api/explain.js';
import { type FilesOptions, registerFiles } from './api/files.js';
import { type InfoSource, registerInfo } from './api/info.js';
import { registerMachines } from './api/machines.js';
import { registerPrefs } from './api/prefs.js';
import { registerProfiles } from './api/profiles.js';
import { type MachineRenderer, registerRender } from './api/render.js';
import { registerSimpleCollections } from './api/resources.js';
import { registerTimeline } from './api/timeline.js';
import type { ApiContext } from './api/route.js';
import { type LoadedSpec, createSpecAjv } from './api/spec.js';
import { registerUsers } from './api/users.js';
import type { ExplainTree } from './explain/explain.js';

export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'password',
  '*.password',
  'passwordHash',
  '*.passwordHash',
  'tokenSecret',
  '*.tokenSecret',
  'token',
  '*.token',
];

export function createLogger(opts: { level: string; format: 'json' | 'pretty' }, destination?: NodeJS.WritableStream): Logger {
  const options = { level: opts.level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } };
  if (opts.format === 'pretty') return pino(options, pretty({ destination: destination ?? process.stdout, sync: true }));
  return destination ? pino(options, destination) : pino(options);
}

export interface AppOptions {
  services: Services;
  logger: Logger;
  spec: LoadedSpec;
  info: InfoSource;
  /** Where /api/v1/files and /api/v1/isos store uploads (absent: those routes answer 503). */
  files?: FilesOptions;
  /** Later layers (boot files over HTTP at `/`), registered after the API. */
  plugins?: FastifyPluginAsync[];
  /** The boot layer's renderer behind GET /machines/{key}/render (absent: that route answers 503). */
  render?: MachineRenderer;
  /** The boot tree behind GET /machines/{key}/explain (absent: that route answers 503). */
  explain?: ExplainTree;
  /** Serve over TLS with this PEM certificate and key (the daemon's HTTPS API app). */
  https?: { cert: Buffer; key: Buffer };
  /**
   * TLS is on and this is the plain HTTP app: user credentials (passwords, user tokens) are refused here and
   * pointed at this HTTPS port; machine tokens (installer callbacks) and unauthenticated routes still work.
   */
  userApiOverHttpsOnly?: { httpsPort: number };
}

/**
 * @fastify/swagger-ui needs a plugin named '@fastify/swagger' that decorates `swagger()`. Ours serves the
 * static openapi.yaml instead of generating one from routes; the symbols mark it the way fastify-plugin does.
 */
function staticSwagger(spec: LoadedSpec): FastifyPluginAsync {
  const plugin: FastifyPluginAsync = async (app) => {
    const doc = parseYaml(spec.text) as Record<string, unknown>;
    app.decorate('swagger', (opts?: { yaml?: boolean }) => (opts?.yaml ? spec.text : doc));
  };
  const marked = plugin as FastifyPluginAsync & Record<symbol, unknown>;
  marked[Symbol.for('skip-override')] = true;
  marked[Symbol.for('plugin-meta')] = { name: '@fastify/swagger', fastify: '5.x' };
  marked[Symbol.for('fastify.display-name')] = '@fastify/swagger';
  return plugin;
}

const routeTables = new WeakMap<FastifyInstance, { method: string; url: string }[]>();

/** Every route the app registered (method, fastify URL), for the spec-vs-server contract test. */
export const registeredRoutes = (app: FastifyInstance): { method: string; url: string }[] => routeTables.get(app) ?? [];

export async function buildApp(opts: AppOptions): Promise<FastifyInstance> {
  // Fastify's types tie the instance to its server type; the HTTPS app is used exactly like the HTTP one.
  const app = Fastify({
    loggerInstance: opts.logger as FastifyBaseLogger,
    forceCloseConnections: 'idle',
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    frameworkErrors,
    ...(opts.https ? { https: opts.https } : {}),
  }) as unknown as FastifyInstance;
  const table: { method: string; url: string }[] = [];
  routeTables.set(app, table);
  app.addHook('onRoute', (r) => {
    for (const method of [r.method].flat()) table.push({ method: String(method), url: r.url });
  });
  installErrorHandling(app);
  const json = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser(['application/merge-patch+json', 'application/json-patch+json'], { parseAs: 'string' }, json);
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(String(body))));
  });

  await app.register(staticSwagger(opts.spec));
  await app.register(swaggerUi, { routePrefix: '/swagger', uiConfig: { docExpansion: 'list', deepLinking: true } });
  app.get('/openapi.yaml', async (_req, reply) => reply.type('application/yaml; charset=utf-8').send(opts.spec.text));

  const ctx: ApiContext = {
    app,
    services: opts.services,
    doc: opts.spec.doc,
    bodyAjv: createSpecAjv(opts.spec.doc),
    queryAjv: createSpecAjv(opts.spec.doc, { coerceTypes: true }),
    auth: new Authenticator(opts.services, { userApiOverHttpsOnly: opts.userApiOverHttpsOnly }),
  };
  registerInfo(ctx, opts.info);
  registerMachines(ctx);
  registerRender(ctx, opts.render);
  registerTimeline(ctx);
  registerExplain(ctx, opts.explain);
  registerProfiles(ctx);
  registerSimpleCollections(ctx);
  registerPrefs(ctx);
  registerUsers(ctx);
  registerEvents(ctx);
  registerFiles(ctx, opts.files, opts.logger);
  for (const plugin of opts.plugins ?? []) await app.register(plugin);
  return app;
}
