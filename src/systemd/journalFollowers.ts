import type { JournalEntry } from './journalEntry.js';
import { JournalFollowProcess, type JournalSource } from './journalctl.js';

/** What a reader's buffer may hold before newer entries are dropped for it. */
export interface FollowBufferLimits {
  /** Entries. Default 1,000. */
  readonly entries?: number;
  /** Bytes of MESSAGE text. Default 1 MiB. */
  readonly bytes?: number;
}

/** The next entries for one reader: `dropped` entries were skipped just before `entries`. */
export interface FollowBatch {
  readonly dropped: number;
  readonly entries: readonly JournalEntry[];
}

/**
 * One `journalctl --follow` per unit however many readers follow it, as the server keeps one D-Bus
 * subscription for all watchers. Each reader has its own bounded buffer: a reader slower than the
 * unit writes gets the entries up to its limit, then a count of those dropped, never unbounded
 * memory, and never holds back the others. The last reader to leave ends the process; close()
 * ends them all.
 */
export class JournalFollowers {
  private readonly byUnit = new Map<string, SharedFollower>();
  private closed = false;

  constructor(
    private readonly source: JournalSource,
    private readonly limits: FollowBufferLimits = {},
  ) {}

  /**
   * Follows a unit's new entries from now on. Resolves once the follower runs: every entry the unit
   * writes after that reaches the returned reader (or is counted as dropped for it).
   */
  async follow(unit: string): Promise<FollowReader> {
    if (this.closed) throw new Error('the journal followers are closed');
    let shared = this.byUnit.get(unit);
    if (!shared) {
      shared = new SharedFollower(this.source, unit, (self) => {
        if (this.byUnit.get(unit) === self) this.byUnit.delete(unit);
      });
      this.byUnit.set(unit, shared);
    }
    return shared.join(this.limits);
  }

  /** journalctl processes running now (for tests and diagnostics). */
  get processes(): number {
    return [...this.byUnit.values()].filter((shared) => shared.running).length;
  }

  /** Ends every follower; their readers end as if the journal had no more entries. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.byUnit.values()].map((shared) => shared.stop()));
  }
}

/** One unit's journalctl and the readers sharing it. */
class SharedFollower {
  private readonly readers = new Set<FollowReader>();
  private readonly process: Promise<JournalFollowProcess>;
  private started = false;
  private stopped = false;

  constructor(
    source: JournalSource,
    unit: string,
    private readonly forgetSelf: (self: SharedFollower) => void,
  ) {
    this.process = JournalFollowProcess.start(source, unit, (entry) => {
      for (const reader of this.readers) reader.push(entry);
    });
    this.process.then(
      (process) => {
        this.started = true;
        void process.ended.then((error) => {
          this.forgetSelf(this);
          for (const reader of this.readers) reader.end(error);
        });
      },
      (error: Error) => {
        this.forgetSelf(this);
        for (const reader of this.readers) reader.end(error);
      },
    );
  }

  /** journalctl --follow has started and not been stopped. */
  get running(): boolean {
    return this.started && !this.stopped;
  }

  async join(limits: FollowBufferLimits): Promise<FollowReader> {
    const reader = new FollowReader(limits, () => this.leave(reader));
    this.readers.add(reader);
    try {
      await this.process;
    } catch (error) {
      this.readers.delete(reader);
      throw error;
    }
    return reader;
  }

  private leave(reader: FollowReader): void {
    this.readers.delete(reader);
    if (this.readers.size === 0) void this.stop();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.forgetSelf(this);
    for (const reader of this.readers) reader.end(undefined);
    const process = await this.process.catch(() => undefined);
    await process?.stop();
  }
}

/**
 * One reader's share of a follower: an async iterable of batches, buffered up to its limits.
 * close() (or leaving a `for await` loop) gives the share back.
 */
export class FollowReader implements AsyncIterable<FollowBatch> {
  /** Entries in order, with a count wherever entries were dropped (at most one between two). */
  private items: Array<JournalEntry | { dropped: number }> = [];
  private queuedEntries = 0;
  private queuedBytes = 0;
  private wake: (() => void) | undefined;
  private ending: { error: Error | undefined } | undefined;
  private readonly maxEntries: number;
  private readonly maxBytes: number;

  constructor(
    limits: FollowBufferLimits,
    private readonly onClose: () => void,
  ) {
    this.maxEntries = limits.entries ?? 1_000;
    this.maxBytes = limits.bytes ?? 1024 * 1024;
  }

  /** Entries waiting for this reader (for tests and diagnostics). */
  get buffered(): number {
    return this.queuedEntries;
  }

  push(entry: JournalEntry): void {
    if (this.ending) return;
    if (this.queuedEntries >= this.maxEntries || this.queuedBytes + entry.message.length > this.maxBytes) {
      const last = this.items[this.items.length - 1];
      if (last && 'dropped' in last) last.dropped++;
      else this.items.push({ dropped: 1 });
    } else {
      this.items.push(entry);
      this.queuedEntries++;
      this.queuedBytes += entry.message.length;
    }
    this.wakeUp();
  }

  end(error: Error | undefined): void {
    this.ending ??= { error };
    this.wakeUp();
  }

  close(): void {
    this.end(undefined);
    this.onClose();
  }

  /** The next batch; undefined once the follower has ended (throws if it failed). */
  async next(): Promise<FollowBatch | undefined> {
    for (;;) {
      const batch = this.take();
      if (batch) return batch;
      if (this.ending) {
        if (this.ending.error) throw this.ending.error;
        return undefined;
      }
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<FollowBatch> {
    try {
      for (let batch = await this.next(); batch; batch = await this.next()) yield batch;
    } finally {
      this.close();
    }
  }

  /** A drop count at the front (if any), then the entries up to the next drop. */
  private take(): FollowBatch | undefined {
    if (this.items.length === 0) return undefined;
    const first = this.items[0]!;
    const dropped = 'dropped' in first ? first.dropped : 0;
    const start = dropped > 0 ? 1 : 0;
    let end = start;
    while (end < this.items.length && !('dropped' in this.items[end]!)) end++;
    const entries = this.items.slice(start, end) as JournalEntry[];
    this.items = this.items.slice(end);
    this.queuedEntries -= entries.length;
    for (const entry of entries) this.queuedBytes -= entry.message.length;
    return { dropped, entries };
  }

  private wakeUp(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}
