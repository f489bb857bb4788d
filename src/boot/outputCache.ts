/**
 * Rendered boot files, kept for the wall-clock second they were rendered in. Firmware and installers ask
 * for the same file several times (retries, HEAD then GET, iPXE and then the kernel command line), and an
 * operator's curl loop or a benchmark asks thousands of times a second; rendering each time cost a
 * Handlebars run and a context of every aggregated param.
 *
 * Within one second a cached file is byte-identical to a fresh render: machine tokens carry their expiry
 * in whole seconds (dataCache.ts mints one per machine and second), and every change that could alter a
 * file drops it synchronously, inside the publish of the acknowledged write, exactly as the data cache
 * does: a machine's event drops that machine's files, a bootenv, template, param, profile or prefs event
 * drops all of them. Failed renders are not kept, so every request for a broken template gets its error.
 */
import type { FarrierEvent } from '../model/types.js';
import { GLOBAL_TYPES, type ChangeObserver } from './dataCache.js';

interface Output {
  second: number;
  data: Promise<Buffer>;
}

export class RenderedOutputs {
  /** By machine uuid ('' for files of unknown machines), then by what was rendered. */
  private readonly byMachine = new Map<string, Map<string, Output>>();
  private count = 0;
  private readonly stop: () => void;

  constructor(
    changes: ChangeObserver,
    /** Bound on files kept; all are dropped when it is reached (they would expire within a second anyway). */
    private readonly maxEntries = 20_000,
  ) {
    this.stop = changes.observe((e) => this.onChange(e));
  }

  close(): void {
    this.stop();
  }

  /** The file `key` of `machine` rendered this second, rendering it with `produce` when there is none. */
  get(machine: string | null, key: string, produce: () => Promise<Buffer>): Promise<Buffer> {
    const second = Math.floor(Date.now() / 1000);
    const owner = machine ?? '';
    const hit = this.byMachine.get(owner)?.get(key);
    if (hit && hit.second === second) return hit.data;
    if (!hit && this.count >= this.maxEntries) this.clear();
    let files = this.byMachine.get(owner);
    if (!files) {
      files = new Map();
      this.byMachine.set(owner, files);
    }
    if (!hit) this.count++;
    const entry: Output = { second, data: produce() };
    files.set(key, entry);
    const kept = files;
    entry.data.catch(() => {
      // only if nothing replaced or dropped it meanwhile
      if (this.byMachine.get(owner) === kept && kept.get(key) === entry) {
        kept.delete(key);
        this.count--;
      }
    });
    return entry.data;
  }

  private onChange(e: FarrierEvent): void {
    if (e.type === 'machines') {
      const files = this.byMachine.get(e.key);
      if (files) {
        this.count -= files.size;
        this.byMachine.delete(e.key);
      }
    } else if (GLOBAL_TYPES.has(e.type)) this.clear();
  }

  private clear(): void {
    this.byMachine.clear();
    this.count = 0;
  }
}
