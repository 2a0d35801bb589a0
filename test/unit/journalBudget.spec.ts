import { describe, expect, it } from 'vitest';
import { JournalBudget } from '../../src/control/journalBudget.js';

const limits = { total: 4, perIdentity: 2, waitMs: 50 };

describe('the caps on journalctl processes', () => {
  it("refuses an identity's read beyond its cap, naming the cap, once a short wait for a slot has passed", async () => {
    const budget = new JournalBudget(limits);
    await budget.read('dashboard');
    await budget.read('dashboard');
    const refused = await budget.read('dashboard').then(() => undefined, (error: Error & { code?: string }) => error);
    expect(refused?.code).toBe('RESOURCE_EXHAUSTED');
    expect(refused?.message).toMatch(/dashboard already has 2 journal reads running \(--max-journalctl-per-identity\)/);
    // Another identity still reads.
    await budget.read('scraper');
    expect(budget.running).toBe(3);
  });

  it('lets a waiting read in as soon as one ends', async () => {
    const budget = new JournalBudget({ ...limits, waitMs: 5_000 });
    const first = await budget.read('dashboard');
    await budget.read('dashboard');
    const third = budget.read('dashboard');
    first();
    first(); // twice: nothing more is given back
    await third;
    expect(budget.running).toBe(2);
  });

  it('refuses beyond the server-wide cap, whoever asks', async () => {
    const budget = new JournalBudget(limits);
    for (const who of ['a', 'b', 'c', 'd']) await budget.read(who);
    await expect(budget.read('e')).rejects.toThrow(/the server already runs 4 journalctl processes \(--max-journalctl\)/);
    await expect(budget.read(undefined)).rejects.toThrow(/--max-journalctl\)/);
  });

  it('counts a followed stream once however many times an identity follows it, and its follower once in all', async () => {
    const budget = new JournalBudget(limits);
    const shares = await Promise.all(Array.from({ length: 100 }, () => budget.follow('dashboard', 'a.service')));
    await budget.follow('scraper', 'a.service');
    expect(budget.running).toBe(1);
    await budget.follow('dashboard', 'b.service');
    await expect(budget.follow('dashboard', 'c.service')).rejects.toThrow(/dashboard already follows 2 streams' logs/);
    // Its reads are counted apart from its follows: a follow's backlog read is never blocked by it.
    await budget.read('dashboard');
    for (const release of shares) release();
    expect(budget.running).toBe(3); // a.service still followed by scraper, b.service, one read
  });

  it('ends a wait when the call is cancelled', async () => {
    const budget = new JournalBudget({ ...limits, waitMs: 60_000 });
    await budget.read('dashboard');
    await budget.read('dashboard');
    const cancel = new AbortController();
    const waiting = budget.read('dashboard', cancel.signal);
    cancel.abort(new Error('cancelled'));
    await expect(waiting).rejects.toThrow('cancelled');
  });

  it("gives an identity's read back one at a time: at its cap again after one ends and one more begins", async () => {
    const budget = new JournalBudget(limits);
    const first = await budget.read('dashboard');
    await budget.read('dashboard');
    first();
    await budget.read('dashboard');
    await expect(budget.read('dashboard')).rejects.toThrow(/dashboard already has 2 journal reads running/);
  });

  it('lets in only as many waiting reads as a freed slot allows, the first come first', async () => {
    const budget = new JournalBudget({ ...limits, waitMs: 60_000 });
    const first = await budget.read('dashboard');
    const second = await budget.read('dashboard');
    const third = budget.read('dashboard');
    let fourthIn = false;
    const fourth = budget.read('dashboard').then((release) => ((fourthIn = true), release));
    first();
    await third;
    // Every continuation of the release has run once a macrotask has passed.
    await new Promise((resolve) => setImmediate(resolve));
    expect(fourthIn).toBe(false);
    expect(budget.running).toBe(2);
    second();
    await fourth;
    expect(budget.running).toBe(2);
  });

  it('needs a slot for a new follower, none for a share of a running one', async () => {
    const budget = new JournalBudget(limits);
    await budget.follow('dashboard', 'a.service');
    for (const who of ['b', 'c', 'd']) await budget.read(who);
    expect(budget.running).toBe(4);
    await budget.follow('scraper', 'a.service');
    expect(budget.running).toBe(4);
    await expect(budget.follow('scraper', 'b.service')).rejects.toThrow(/the server already runs 4 journalctl processes \(--max-journalctl\)/);
  });

  it('lets an identity at its cap share a unit it already follows again', async () => {
    const budget = new JournalBudget(limits);
    await budget.follow('dashboard', 'a.service');
    await budget.follow('dashboard', 'b.service');
    await budget.follow('dashboard', 'a.service');
    expect(budget.running).toBe(2);
  });

  it("counts the server's own follows (no identity) only against the total", async () => {
    const budget = new JournalBudget(limits);
    for (const unit of ['a.service', 'b.service', 'c.service']) await budget.follow(undefined, unit);
    expect(budget.running).toBe(3);
  });

  it('keeps a follower while any share of it is held, and ends it with the last', async () => {
    const budget = new JournalBudget(limits);
    const once = await budget.follow('dashboard', 'a.service');
    const twice = await budget.follow('dashboard', 'a.service');
    once();
    expect(budget.running).toBe(1);
    twice();
    expect(budget.running).toBe(0);
    // The identity's count of followed units went back too.
    await budget.follow('dashboard', 'b.service');
    await budget.follow('dashboard', 'c.service');
    expect(budget.running).toBe(2);
  });

  it('gives back the slot of a read let in just after its call was cancelled', async () => {
    const budget = new JournalBudget({ ...limits, waitMs: 60_000 });
    const first = await budget.read('dashboard');
    await budget.read('dashboard');
    const cancel = new AbortController();
    const waiting = budget.read('dashboard', cancel.signal);
    cancel.abort(new Error('cancelled'));
    first(); // frees a slot before the waiting call has seen its cancellation
    await expect(waiting).rejects.toThrow('cancelled');
    expect(budget.running).toBe(1);
    await budget.read('dashboard');
    expect(budget.running).toBe(2);
  });
});
