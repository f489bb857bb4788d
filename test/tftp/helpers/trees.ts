import type { BootTree, BootTreeEntry } from '../../../src/tftp/ports.js';

/** A BootTree of in-memory files: how rendered templates reach the TFTP server (Buffer entries). */
export class BufferTree implements BootTree {
  readonly lookups: string[] = [];
  constructor(private readonly files: Record<string, Buffer>) {}
  async lookup(path: string): Promise<BootTreeEntry> {
    this.lookups.push(path);
    const data = this.files[path];
    return data ? { kind: 'buffer', data, name: path } : { kind: 'missing', reason: `${path}: not rendered` };
  }
}
