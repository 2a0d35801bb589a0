import { untilAborted } from '../core/abortable.js';
import { isAfterCursor, type JournalEntry } from './journalEntry.js';
import { entryOrigin, JournalFollowProcess, type JournalSource } from './journalctl.js';

/** What a reader's buffer may hold before newer entries are dropped for it. */
export interface FollowBufferLimits {
  /** Entries. Default 1,000. */
  readonly entries?: number;
  /** Bytes of MESSAGE text. Default 1 MiB. */
  readonly bytes?: number;
}

/** What one reader asks of a follower. */
export interface FollowOptions {
  readonly signal?: AbortSignal;
  /**
   * Only entries after this cursor: a reader resuming from it. The shared follower may be behind
   * it (it reports entries a moment after journald files them); entries up to the cursor are then
   * neither sent to this reader nor counted as dropped for it.
   */
  readonly afterCursor?: string;
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
 * ends them all. Readers are sent only entries the unit's processes or its manager wrote
 * (entryOrigin), so a count of dropped entries counts only lines a caller would have been sent.
 */
export class JournalFollowers {
  private readonly byUnit = new Map<string, SharedFollower>();
  private closed = false;

  constructor(
    private readonly source: JournalSource,
    private readonly limits: FollowBufferLimits = {},
  ) {}

  /**
   * Follows a unit's new entries from now on. Resolves once the follower runs: every entry of the
   * unit after the reader's `startsAfter` (and after `afterCursor`) reaches the returned reader (or
   * is counted as dropped for it). When `signal` aborts first, the share is given back and the
   * promise rejects.
   */
  async follow(unit: string, { signal, afterCursor }: FollowOptions = {}): Promise<FollowReader> {
    if (this.closed) throw new Error('the journal followers are closed');
    signal?.throwIfAborted();
    let shared = this.byUnit.get(unit);
    if (!shared) {
      shared = new SharedFollower(this.source, unit, (self) => {
        if (this.byUnit.get(unit) === self) this.byUnit.delete(unit);
      });
      this.byUnit.set(unit, shared);
    }
    return shared.join({ ...this.limits, afterCursor }, signal);
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
  private readonly stopping = new AbortController();
  /** The last entry journalctl printed (at first, the one it started after): a reader joining now gets those after it. */
  private position: JournalEntry | undefined;

  constructor(
    source: JournalSource,
    unit: string,
    private readonly forgetSelf: (self: SharedFollower) => void,
  ) {
    this.process = JournalFollowProcess.start(
      source,
      unit,
      (entry) => {
        this.position = entry;
        if (!entryOrigin(entry, source, unit)) return;
        for (const reader of this.readers) reader.push(entry);
      },
      this.stopping.signal,
    );
    this.process.then(
      (process) => {
        // Before journalctl can print anything (its output comes in later turns of the event loop).
        this.started = true;
        this.position = process.startsAfter;
        for (const reader of this.readers) reader.startAfter(this.position);
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

  async join(limits: FollowBufferLimits & { afterCursor?: string }, signal?: AbortSignal): Promise<FollowReader> {
    const reader = new FollowReader(limits, () => this.leave(reader));
    if (this.started) reader.startAfter(this.position);
    this.readers.add(reader);
    try {
      await (signal ? untilAborted(this.process, signal) : this.process);
    } catch (error) {
      // Given back as any reader leaves: the last one ends journalctl, once it has started.
      reader.close();
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
    // Stopped while it starts: it spawns no `journalctl --follow` after its first read.
    this.stopping.abort();
    this.forgetSelf(this);
    for (const reader of this.readers) reader.end(undefined);
    const process = await this.process.catch(() => undefined);
    await process?.stop();
  }
}

/** Where entries were dropped, and how many. */
interface Gap {
  dropped: number;
}

/**
 * One reader's share of a follower: an async iterable of batches, buffered up to its limits.
 * close() (or leaving a `for await` loop) gives the share back.
 */
export class FollowReader implements AsyncIterable<FollowBatch> {
  /** Entries in order, with a gap wherever entries were dropped (at most one between two). */
  private items: Array<JournalEntry | Gap> = [];
  private start: { after: JournalEntry | undefined } | undefined;
  private queuedEntries = 0;
  private queuedBytes = 0;
  private wake: (() => void) | undefined;
  private ending: { error: Error | undefined } | undefined;
  private readonly maxEntries: number;
  private readonly maxBytes: number;
  private readonly afterCursor: string | undefined;
  private closed = false;
  private readonly closeCallbacks: Array<() => void> = [];

  constructor(
    limits: FollowBufferLimits & { afterCursor?: string },
    private readonly onClose: () => void,
  ) {
    this.maxEntries = limits.entries ?? 1_000;
    this.maxBytes = limits.bytes ?? 1024 * 1024;
    this.afterCursor = limits.afterCursor;
  }

  /** Entries waiting for this reader (for tests and diagnostics). */
  get buffered(): number {
    return this.queuedEntries;
  }

  /**
   * The journal entry after which this reader's entries begin (undefined: the unit had none when
   * its follower started, so every entry of the unit comes to it). Known once `follow()` resolved.
   */
  get startsAfter(): JournalEntry | undefined {
    if (!this.start) throw new Error('the follower has not started yet');
    return this.start.after;
  }

  /** Set by the shared follower, before any entry is pushed to this reader. */
  startAfter(entry: JournalEntry | undefined): void {
    this.start ??= { after: entry };
  }

  push(entry: JournalEntry): void {
    if (this.ending) return;
    if (this.afterCursor !== undefined && !isAfterCursor(entry, this.afterCursor)) return;
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
    if (this.closed) return;
    this.closed = true;
    this.onClose();
    for (const callback of this.closeCallbacks) callback();
  }

  /** Calls `callback` once this reader is closed (at once if it is). */
  onClosed(callback: () => void): void {
    if (this.closed) callback();
    else this.closeCallbacks.push(callback);
  }

  /**
   * The next batch; undefined once the follower has ended (throws if it failed). Waits for one
   * until `signal` aborts (then rejects with its reason): nothing else may end a reader's wait, as
   * a unit may write nothing for ever.
   */
  async next(signal?: AbortSignal): Promise<FollowBatch | undefined> {
    for (;;) {
      signal?.throwIfAborted();
      const batch = this.take();
      if (batch) return batch;
      if (this.ending) {
        if (this.ending.error) throw this.ending.error;
        return undefined;
      }
      const woken = new Promise<void>((resolve) => (this.wake = resolve));
      await (signal ? untilAborted(woken, signal) : woken);
    }
  }

  /** The batches until the follower ends or `signal` aborts; leaving the loop gives the share back. */
  async *batches(signal?: AbortSignal): AsyncGenerator<FollowBatch> {
    try {
      for (let batch = await this.next(signal); batch; batch = await this.next(signal)) yield batch;
    } finally {
      this.close();
    }
  }

  [Symbol.asyncIterator](): AsyncGenerator<FollowBatch> {
    return this.batches();
  }

  /** A gap at the front (if any), then the entries up to the next gap. */
  private take(): FollowBatch | undefined {
    if (this.items.length === 0) return undefined;
    const first = this.items[0]!;
    const gap = 'dropped' in first ? first : undefined;
    const dropped = gap?.dropped ?? 0;
    const start = gap ? 1 : 0;
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
