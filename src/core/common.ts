/**
 * Plumbing shared by the resource services: dependencies, change events, and the read-modify-write loop
 * that makes every update safe against concurrent writers.
 */
import type { Logger } from 'pino';
import { FarrierError, notFound } from '../errors.js';
import type { EventBus } from '../events/bus.js';
import type { Kind } from '../model/types.js';
import type { Store, Stored, Unstored } from '../store/store.js';

export interface CoreDeps {
  store: Store;
  bus: EventBus;
  logger: Logger;
}

export type ChangeAction = 'create' | 'update' | 'delete';

export function publishChange(bus: EventBus, type: string, action: ChangeAction, key: string, object: unknown): void {
  bus.publish({ time: new Date().toISOString(), type, action, key, object });
}

/** True for the store's optimistic-concurrency conflict (as opposed to a unique-field conflict). */
export const isVersionConflict = (err: unknown): boolean =>
  err instanceof FarrierError && err.code === 'CONFLICT' && err.detail !== undefined && 'expectedVersion' in err.detail;

const MAX_ATTEMPTS = 8;

/**
 * Writers in this process queue per object, so a burst of edits to one machine (e.g. 20 `PUT params/k`
 * at once) does not burn through the retry budget on conflicts it could never win. The version retry
 * below still covers writers in other processes (CLI against the DB, a future shared PostgreSQL).
 */
const writeQueues = new Map<string, Promise<unknown>>();

async function serialised<R>(id: string, work: () => Promise<R>): Promise<R> {
  const previous = writeQueues.get(id) ?? Promise.resolve();
  const run = previous.then(work, work);
  const tail = run.catch(() => undefined);
  writeQueues.set(id, tail);
  try {
    return await run;
  } finally {
    if (writeQueues.get(id) === tail) writeQueues.delete(id);
  }
}

/**
 * get → mutate → put(expectVersion). When another writer got in between, re-read and mutate again, so no
 * update is lost; `mutate` must therefore be a pure function of the current object. A caller-supplied
 * `expectVersion` (the client's own optimistic check) is never retried: it fails with 409.
 */
export async function updateObject<T extends object>(
  store: Store,
  kind: Kind,
  key: string,
  mutate: (current: Stored<T>) => Promise<Unstored<T>> | Unstored<T>,
  clientVersion?: number,
): Promise<{ before: Stored<T>; after: Stored<T> }> {
  return serialised(`${kind}\u0000${key}`, () => readModifyWrite(store, kind, key, mutate, clientVersion));
}

async function readModifyWrite<T extends object>(
  store: Store,
  kind: Kind,
  key: string,
  mutate: (current: Stored<T>) => Promise<Unstored<T>> | Unstored<T>,
  clientVersion: number | undefined,
): Promise<{ before: Stored<T>; after: Stored<T> }> {
  for (let attempt = 1; ; attempt++) {
    const before = await store.get<T>(kind, key);
    if (!before) throw notFound(kind.replace(/s$/, ''), key);
    const next = await mutate(before);
    try {
      const after = await store.put<T>(kind, key, next, { mode: 'replace', expectVersion: clientVersion ?? before.version });
      return { before, after };
    } catch (err) {
      if (clientVersion !== undefined || !isVersionConflict(err) || attempt >= MAX_ATTEMPTS) throw err;
    }
  }
}

/** The client's optimistic-concurrency version, if it sent one. */
export function clientVersionOf(body: Record<string, unknown>): number | undefined {
  return typeof body.version === 'number' ? body.version : undefined;
}

export const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
