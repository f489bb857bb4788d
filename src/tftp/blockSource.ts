/**
 * Where a transfer's blocks come from: a Buffer in memory (rendered files, cached files) or a file on disk
 * read ahead in chunks. The transfer asks for a block with `slice`; a file source answers at once when the
 * block's chunk is in memory and otherwise starts reading it and calls `onReady` when it arrives, so the
 * transfer never waits on one thread-pool read per block.
 */
import { close, open, read } from 'node:fs';

export interface BlockSource {
  readonly size: number;
  /** Bytes [offset, offset + length) if in memory now; undefined while they are being read (see onReady). */
  slice(offset: number, length: number): Buffer | undefined;
  /** Everything before `offset` is acknowledged: its memory may go. */
  release(offset: number): void;
  /** Called when a read the transfer waited for has arrived. */
  onReady?: () => void;
  close(): void;
}

export class BufferSource implements BlockSource {
  readonly size: number;
  constructor(private readonly data: Buffer) {
    this.size = data.length;
  }
  slice(offset: number, length: number): Buffer {
    return this.data.subarray(offset, offset + length);
  }
  release(): void {}
  close(): void {}
}

/** Smallest chunk: 16 KiB (larger reads measured no faster and cost memory with hundreds of stalled clients). */
const MIN_CHUNK = 16 * 1024;

/**
 * A file on disk, `size` bytes announced (bytes beyond it are never read: a file that grew is cut at the
 * announced size; one that shrank is an error). Chunks are whole blocks and at least one window long, so a
 * block never straddles two chunks and a window never spans more than two.
 */
export class FileSource implements BlockSource {
  onReady?: () => void;
  private fd: number | undefined;
  private readonly chunkSize: number;
  /** Chunks in memory by index: from the one holding the oldest unacknowledged block to one past the newest sent. */
  private readonly chunks = new Map<number, Buffer>();
  /** Index of the chunk being read (one read at a time), or undefined. */
  private reading: number | undefined;
  /** The lowest chunk still needed (everything before it is acknowledged). */
  private low = 0;
  /** The highest chunk wanted: one past the newest the transfer has taken blocks from (read ahead by one). */
  private wanted = 0;
  private waiting = false;
  private closed = false;
  private failed = false;

  constructor(
    path: string,
    readonly size: number,
    blockSize: number,
    windowSize: number,
    /** Called once when the file cannot be read to its announced size (the message names no path). */
    private readonly onError: (message: string) => void,
  ) {
    this.chunkSize = blockSize * Math.max(windowSize, Math.ceil(MIN_CHUNK / blockSize));
    open(path, 'r', (err, fd) => {
      if (this.closed) {
        if (!err) close(fd, () => {});
        return;
      }
      if (err) return this.fail(err.message);
      this.fd = fd;
      this.fill();
    });
  }

  slice(offset: number, length: number): Buffer | undefined {
    const index = Math.floor(offset / this.chunkSize);
    if (index + 1 > this.wanted) {
      // the transfer reached this chunk: read the next one meanwhile
      this.wanted = index + 1;
      this.fill();
    }
    const chunk = this.chunks.get(index);
    if (!chunk) {
      this.waiting = true;
      return undefined;
    }
    const start = offset - index * this.chunkSize;
    return chunk.subarray(start, start + length);
  }

  release(offset: number): void {
    const index = Math.floor(offset / this.chunkSize);
    if (index <= this.low) return;
    for (let i = this.low; i < index; i++) this.chunks.delete(i);
    this.low = index;
    this.fill();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.chunks.clear();
    // a read in flight still uses the descriptor: it closes it when it returns
    if (this.fd !== undefined && this.reading === undefined) close(this.fd, () => {});
  }

  /** Starts reading the first wanted chunk not in memory, if any and none is being read. */
  private fill(): void {
    if (this.fd === undefined || this.reading !== undefined || this.closed || this.failed) return;
    const chunks = Math.ceil(this.size / this.chunkSize);
    for (let i = this.low; i <= this.wanted && i < chunks; i++) {
      if (this.chunks.has(i)) continue;
      this.readChunk(i);
      return;
    }
  }

  private readChunk(index: number): void {
    const fd = this.fd as number;
    const start = index * this.chunkSize;
    const length = Math.min(this.chunkSize, this.size - start);
    const buf = Buffer.allocUnsafeSlow(length);
    this.reading = index;
    let got = 0;
    const next = (): void => {
      read(fd, buf, got, length - got, start + got, (err, n) => {
        if (this.closed) {
          this.reading = undefined;
          close(fd, () => {});
          return;
        }
        if (err) return this.fail(err.message);
        got += n;
        if (got < length && n > 0) return next();
        this.reading = undefined;
        if (got < length) return this.fail(`got ${start + got} of ${this.size} bytes (file changed while being sent)`);
        if (index >= this.low) this.chunks.set(index, buf);
        this.fill();
        if (this.waiting) {
          this.waiting = false;
          this.onReady?.();
        }
      });
    };
    next();
  }

  private fail(message: string): void {
    if (this.failed) return;
    this.failed = true;
    this.reading = undefined;
    this.onError(message);
  }
}
