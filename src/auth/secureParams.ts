/**
 * Views without secure param values. A value of a param declared `secure` belongs in its machine's own
 * rendered files and in a direct read of that machine or profile by someone entitled to it (admins,
 * operators, the machine's own token); list responses and the event stream go to everyone who may read
 * anything, and read-only users may not see rendered files either, so there the value becomes `[secure]`.
 */
import type { Services } from '../core/services.js';
import type { Principal } from '../core/tokens.js';
import type { FarrierEvent } from '../model/types.js';

export const REDACTED = '[secure]';

/** Collections whose objects carry a `params` map. */
const HOLDERS = new Set(['machines', 'profiles']);

function redactParams<T>(obj: T, secure: ReadonlySet<string>): T {
  const params = (obj as { params?: unknown } | null)?.params;
  if (!params || typeof params !== 'object' || Array.isArray(params)) return obj;
  const keys = Object.keys(params);
  if (!keys.some((k) => secure.has(k))) return obj;
  const out: Record<string, unknown> = {};
  for (const k of keys) out[k] = secure.has(k) ? REDACTED : (params as Record<string, unknown>)[k];
  return { ...obj, params: out };
}

export class SecureParamFilter {
  /** Names of secure params, kept current from `params` events for the synchronous event path. */
  private readonly names = new Set<string>();
  private loaded = false;

  constructor(private readonly services: Services) {
    // Subscribed before any event-stream client exists: the bus delivers in subscription order, so the set
    // is updated before a stream sees the events that follow a param change.
    services.bus.subscribe({ type: 'params' }, (e) => {
      const p = e.object as { name?: unknown; secure?: unknown } | undefined;
      if (typeof p?.name !== 'string') return;
      if (e.action !== 'delete' && p.secure === true) this.names.add(p.name);
      else this.names.delete(p.name);
    });
  }

  async load(): Promise<void> {
    for (const p of (await this.services.params.all()).values()) if (p.secure) this.names.add(p.name);
    this.loaded = true;
  }

  /** Secure param names, read fresh (no window right after a param turns secure). */
  private async current(): Promise<Set<string>> {
    const secure = new Set<string>();
    for (const p of (await this.services.params.all()).values()) if (p.secure) secure.add(p.name);
    return secure;
  }

  /** A list response's items, secure values replaced. */
  async listView<T>(items: T[]): Promise<T[]> {
    const secure = await this.current();
    return secure.size === 0 ? items : items.map((i) => redactParams(i, secure));
  }

  /** A machine or profile as `reader` may see it on a direct read. */
  async objectView<T>(item: T, reader: Principal | undefined): Promise<T> {
    return seesSecure(reader) ? item : redactParams(item, await this.current());
  }

  /** A params map (`GET …/params`) as `reader` may see it. */
  async mapView(params: Record<string, unknown>, reader: Principal | undefined): Promise<Record<string, unknown>> {
    return seesSecure(reader) ? params : redactParams({ params }, await this.current()).params;
  }

  /** One param value (`GET …/params/{name}`) as `reader` may see it. */
  async valueView(name: string, value: unknown, reader: Principal | undefined): Promise<unknown> {
    return seesSecure(reader) || !(await this.current()).has(name) ? value : REDACTED;
  }

  /** The aggregate view (`{name: {value, source, secure}}`) as `reader` may see it. */
  aggregateView(view: unknown, reader: Principal | undefined): unknown {
    if (seesSecure(reader) || !view || typeof view !== 'object') return view;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(view)) out[k] = (v as { secure?: unknown } | null)?.secure === true ? { ...(v as object), value: REDACTED } : v;
    return out;
  }

  /** The event as the stream may show it. Before the names are loaded every param value is withheld. */
  event(e: FarrierEvent): FarrierEvent {
    if (!HOLDERS.has(e.type) || e.object === undefined) return e;
    if (!this.loaded) {
      const params = (e.object as { params?: unknown } | null)?.params;
      return params && typeof params === 'object' ? { ...e, object: redactParams(e.object, new Set(Object.keys(params))) } : e;
    }
    const object = redactParams(e.object, this.names);
    return object === e.object ? e : { ...e, object };
  }
}

/** Read-only users see no secure value anywhere (as they may not render files that hold them). */
const seesSecure = (p: Principal | undefined): boolean => !(p?.kind === 'user' && p.role === 'readonly');

const filters = new WeakMap<Services, SecureParamFilter>();

/** The one filter of a services instance (created, and its names loading, on first use at app build). */
export function secureParamFilter(services: Services): SecureParamFilter {
  let f = filters.get(services);
  if (!f) {
    f = new SecureParamFilter(services);
    filters.set(services, f);
    // A failed load leaves `loaded` false: the stream then withholds every param value, the safe side.
    f.load().catch(() => undefined);
  }
  return f;
}
