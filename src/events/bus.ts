/**
 * In-process event bus: object changes and boot events fan out to subscribers (SSE clients, later the
 * timeline and metrics). Delivery is asynchronous and each subscriber has its own bounded queue, so one slow
 * consumer (a stalled SSE client) can neither block publishers nor grow memory without bound: when its
 * queue is full the oldest events are dropped and the subscriber is told how many it missed.
 */
import type { FarrierEvent } from '../model/types.js';

export interface EventFilter {
  /** Only events of this type (e.g. `machines`, `dhcp`). */
  type?: string;
  /** Only events with this key (e.g. one machine's uuid). */
  key?: string;
}

export interface SubscribeOptions {
  /** Queue bound for this subscriber (default 1000 events). */
  maxQueue?: number;
  /** Called (after the queued events are delivered) with the number of events dropped since the last call. */
  onDrop?: (dropped: number) => void;
}

type Listener = (e: FarrierEvent) => void;

class Subscription {
  private queue: FarrierEvent[] = [];
  private dropped = 0;
  private scheduled = false;
  closed = false;

  constructor(
    readonly filter: EventFilter,
    private readonly fn: Listener,
    private readonly maxQueue: number,
    private readonly onDrop?: (dropped: number) => void,
  ) {}

  matches(e: FarrierEvent): boolean {
    return (this.filter.type === undefined || this.filter.type === e.type) && (this.filter.key === undefined || this.filter.key === e.key);
  }

  push(e: FarrierEvent): void {
    if (this.queue.length >= this.maxQueue) {
      this.queue.shift();
      this.dropped++;
    }
    this.queue.push(e);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.drain());
    }
  }

  private drain(): void {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    for (const e of batch) {
      if (this.closed) return;
      try {
        this.fn(e);
      } catch {
        // A throwing subscriber must not break delivery to the others or to itself later.
      }
    }
    if (this.dropped > 0 && this.onDrop && !this.closed) {
      const n = this.dropped;
      this.dropped = 0;
      this.onDrop(n);
    }
  }
}

export class EventBus {
  private readonly subs = new Set<Subscription>();
  private readonly observers = new Set<Listener>();

  publish(e: FarrierEvent): void {
    for (const o of this.observers) {
      try {
        o(e);
      } catch {
        // An observer's failure must not fail the write that published the event.
      }
    }
    for (const s of this.subs) if (s.matches(e)) s.push(e);
  }

  /**
   * Calls `fn` inline, before `publish` returns. For caches that must never serve data older than a write
   * already acknowledged (queued subscribers may run after the next request is handled); `fn` must be cheap.
   * Returns the function that removes it.
   */
  observe(fn: Listener): () => void {
    this.observers.add(fn);
    return () => void this.observers.delete(fn);
  }

  /** Returns the unsubscribe function. */
  subscribe(filter: EventFilter, fn: Listener, opts: SubscribeOptions = {}): () => void {
    const sub = new Subscription(filter, fn, opts.maxQueue ?? 1000, opts.onDrop);
    this.subs.add(sub);
    return () => {
      sub.closed = true;
      this.subs.delete(sub);
    };
  }

  get subscriberCount(): number {
    return this.subs.size;
  }
}
