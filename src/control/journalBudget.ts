import { untilAborted } from '../core/abortable.js';
import { ResourceExhaustedError } from '../core/errors.js';

/** How many journalctl processes may run: in all, and for one identity. */
export interface JournalBudgetLimits {
  /** journalctl processes in all: reads, and one follower per followed stream. Default 64. */
  readonly total: number;
  /**
   * Per identity: reads in flight, and streams followed (a stream's follower is shared, so one
   * identity following a stream a hundred times counts once). Default 8 of each.
   */
  readonly perIdentity: number;
  /** How long a read or follow waits for a slot before it is refused, ms. Default 2000. */
  readonly waitMs: number;
}

export const DEFAULT_JOURNAL_BUDGET: JournalBudgetLimits = { total: 64, perIdentity: 8, waitMs: 2_000 };

/** Takes back a slot; calling it again does nothing. */
export type Release = () => void;

interface Waiter {
  readonly fits: () => boolean;
  readonly go: () => void;
}

/**
 * The caps on journalctl processes. Each read of the journal runs a journalctl of its own for as
 * long as its caller takes to read it, and a caller that stops reading holds it (and its memory)
 * until the call ends: without a cap, one identity could keep hundreds running. A read or follow
 * over a cap waits briefly for a slot (a burst of calls runs a few at a time), then is refused
 * with RESOURCE_EXHAUSTED naming the cap. Calls made without an identity (the server's own reads)
 * count only against the total.
 */
export class JournalBudget {
  private reads = 0;
  private readonly readsOf = new Map<string, number>();
  /** Per followed unit, how many shares each identity holds. */
  private readonly followers = new Map<string, Map<string, number>>();
  private readonly unitsOf = new Map<string, number>();
  private waiters: Waiter[] = [];

  constructor(readonly limits: JournalBudgetLimits = DEFAULT_JOURNAL_BUDGET) {}

  /** journalctl processes counted now: reads in flight and followed units. */
  get running(): number {
    return this.reads + this.followers.size;
  }

  /** A slot for one journalctl read by `identity`. */
  async read(identity: string | undefined, signal?: AbortSignal): Promise<Release> {
    const fits = () => this.running < this.limits.total && (identity === undefined || (this.readsOf.get(identity) ?? 0) < this.limits.perIdentity);
    const take = () => {
      this.reads++;
      if (identity !== undefined) this.readsOf.set(identity, (this.readsOf.get(identity) ?? 0) + 1);
      return this.once(() => {
        this.reads--;
        if (identity !== undefined) decrement(this.readsOf, identity);
      });
    };
    return this.wait(fits, take, () => this.readRefusal(identity), signal);
  }

  /** A share of `unit`'s follower for `identity`: a new follower needs a slot, a running one does not. */
  async follow(identity: string | undefined, unit: string, signal?: AbortSignal): Promise<Release> {
    const key = identity ?? '';
    const fits = () => {
      const shares = this.followers.get(unit);
      if (shares === undefined && this.running >= this.limits.total) return false;
      return identity === undefined || shares?.has(key) === true || (this.unitsOf.get(key) ?? 0) < this.limits.perIdentity;
    };
    const take = () => {
      let shares = this.followers.get(unit);
      if (!shares) this.followers.set(unit, (shares = new Map<string, number>()));
      if (!shares.has(key)) this.unitsOf.set(key, (this.unitsOf.get(key) ?? 0) + 1);
      shares.set(key, (shares.get(key) ?? 0) + 1);
      const held = shares;
      return this.once(() => {
        const count = held.get(key) ?? 0;
        if (count > 1) return void held.set(key, count - 1);
        held.delete(key);
        decrement(this.unitsOf, key);
        if (held.size === 0 && this.followers.get(unit) === held) this.followers.delete(unit);
      });
    };
    return this.wait(fits, take, () => this.followRefusal(identity, unit), signal);
  }

  /**
   * Takes a slot at once when it fits, else waits for one. A waiter takes its slot when it is let
   * in, in the same turn as the release that freed it: counted only later, once its caller resumed,
   * every waiter let in by one release would see the same free slot and all take it. A slot taken
   * for a caller that has meanwhile given up (its wait ran out, its call was cancelled) is given back.
   */
  private async wait(fits: () => boolean, take: () => Release, refusal: () => Error, signal?: AbortSignal): Promise<Release> {
    signal?.throwIfAborted();
    if (fits()) return take();
    let waiter: Waiter | undefined;
    let taken: Release | undefined;
    const admitted = new Promise<boolean>((resolve) => {
      waiter = {
        fits,
        go: () => {
          taken = take();
          resolve(true);
        },
      };
      this.waiters.push(waiter);
      setTimeout(() => resolve(false), this.limits.waitMs).unref();
    });
    try {
      const got = await (signal ? untilAborted(admitted, signal) : admitted);
      if (!got) throw refusal();
      return taken!;
    } catch (error) {
      // Out of the queue before giving the slot back, so the release cannot let this waiter in again.
      this.waiters = this.waiters.filter((other) => other !== waiter);
      taken?.();
      throw error;
    } finally {
      this.waiters = this.waiters.filter((other) => other !== waiter);
    }
  }

  private once(release: () => void): Release {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      release();
      this.admitWaiting();
    };
  }

  /** Lets waiting callers in, in the order they came, as far as the caps allow. */
  private admitWaiting(): void {
    for (const waiter of [...this.waiters]) {
      if (!waiter.fits()) continue;
      this.waiters = this.waiters.filter((other) => other !== waiter);
      waiter.go();
    }
  }

  private readRefusal(identity: string | undefined): Error {
    if (identity !== undefined && (this.readsOf.get(identity) ?? 0) >= this.limits.perIdentity) {
      return new ResourceExhaustedError(
        `${identity} already has ${this.limits.perIdentity} journal reads running (--max-journalctl-per-identity); finish reading one (or cancel it) and retry`,
      );
    }
    return new ResourceExhaustedError(`the server already runs ${this.limits.total} journalctl processes (--max-journalctl); retry later`);
  }

  private followRefusal(identity: string | undefined, unit: string): Error {
    if (identity !== undefined && !this.followers.get(unit)?.has(identity) && (this.unitsOf.get(identity) ?? 0) >= this.limits.perIdentity) {
      return new ResourceExhaustedError(`${identity} already follows ${this.limits.perIdentity} streams' logs (--max-journalctl-per-identity); stop following one and retry`);
    }
    return new ResourceExhaustedError(`the server already runs ${this.limits.total} journalctl processes (--max-journalctl); retry later`);
  }
}

function decrement(counts: Map<string, number>, key: string): void {
  const n = (counts.get(key) ?? 0) - 1;
  if (n <= 0) counts.delete(key);
  else counts.set(key, n);
}
