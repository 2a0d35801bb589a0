import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { SystemdManager } from '../../src/systemd/manager.js';
import { readServiceState } from '../../src/systemd/serviceState.js';
import { type SampledUnits, UsageSampler } from '../../src/systemd/usageSampler.js';

/**
 * The sampler's pace and bookkeeping, against a stand-in manager whose units have systemd's
 * accounting on (figures from TasksCurrent/MemoryCurrent, each Get answered `readMs` later). The
 * embedded systemd of the integration specs has accounting off, so this path is proven here only;
 * statusReads.spec.ts proves the /proc path against real systemd.
 */
function accountingOn(readMs: number) {
  const gets: Array<{ unit: string; name: string; at: number }> = [];
  const manager = {
    getUnitProperty(unit: string, _iface: string, name: string): Promise<bigint> {
      gets.push({ unit, name, at: performance.now() });
      return new Promise((resolve) => setTimeout(() => resolve(name === 'TasksCurrent' ? 3n : 4096n), readMs));
    },
  } as unknown as SystemdManager;
  return { manager, gets };
}

const running = (mainPid = 42) => readServiceState({ ActiveState: 'active', SubState: 'running', MainPID: mainPid });

function unitsOf(names: string[], manager: SystemdManager): SampledUnits {
  return {
    running: () => names,
    known: (unit) => (names.includes(unit) ? running() : undefined),
    controlGroup: async () => undefined,
    manager: () => manager,
  };
}

/** When each walk began: its first Get. */
function walkStarts(gets: Array<{ unit: string; at: number }>, first: string): number[] {
  return gets.filter((get, i) => get.unit === first && gets.findIndex((g) => g.unit === first && g.at === get.at) === i).map((get) => get.at);
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('UsageSampler: the background walk', () => {
  it('walks every interval while a walk takes less than its share of the time', async () => {
    const { manager, gets } = accountingOn(5);
    const names = Array.from({ length: 10 }, (_, i) => `u${i}.service`);
    const sampler = new UsageSampler(unitsOf(names, manager), { intervalMs: 2_000, maxShare: 0.05 }, () => performance.now());
    sampler.start();
    await vi.advanceTimersByTimeAsync(4_500);
    sampler.close();
    // Ten units, 5 ms each: walks of 50 ms of CPU, every 2 s.
    expect(walkStarts(gets, 'u0.service').map(Math.round)).toEqual([0, 2_000, 4_000]);
  });

  it('spaces walks out so that they take at most their share of a core', async () => {
    const { manager, gets } = accountingOn(50);
    const names = Array.from({ length: 10 }, (_, i) => `u${i}.service`);
    // Each walk costs its wall time in CPU here (a stand-in for the process's CPU clock).
    const sampler = new UsageSampler(unitsOf(names, manager), { intervalMs: 2_000, maxShare: 0.05 }, () => performance.now());
    sampler.start();
    await vi.advanceTimersByTimeAsync(29_999);
    sampler.close();
    // Walks of 500 ms of CPU: each followed by 9.5 s without one, so 5 % of a core.
    expect(walkStarts(gets, 'u0.service').map(Math.round)).toEqual([0, 10_000, 20_000]);
    expect(sampler.stats.walkCpuMs).toBeLessThanOrEqual(0.05 * 30_000);
  });

  it('leaves no timer once closed, even when closed in the middle of a walk', async () => {
    const { manager } = accountingOn(50);
    const sampler = new UsageSampler(unitsOf(['a.service', 'b.service'], manager), { intervalMs: 1_000, maxShare: 1 });
    sampler.start();
    await vi.advanceTimersByTimeAsync(1_020); // the second walk is reading a.service
    expect(sampler.stats.walks).toBe(1);
    sampler.close();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(sampler.stats.walks).toBe(2); // the walk in progress ended without reading b.service…
    expect(sampler.scheduled).toBe(false); // …and scheduled none after it
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('UsageSampler: what a caller gets', () => {
  it("serves systemd's figures that came with a unit's properties, reading nothing", async () => {
    const { manager, gets } = accountingOn(5);
    const sampler = new UsageSampler(unitsOf([], manager));
    sampler.learn('a.service', { ActiveState: 'active', MainPID: 42, TasksCurrent: 3n, MemoryCurrent: 4096n });
    expect(await sampler.usage('a.service', running())).toMatchObject({ tasks: 3, memoryBytes: 4096, usageSource: 'systemd' });
    expect(gets).toEqual([]);
  });

  it('reads the first figures of a new main process, then serves them until a walk or a fresh read', async () => {
    const { manager, gets } = accountingOn(5);
    const sampler = new UsageSampler(unitsOf([], manager));
    const first = sampler.usage('a.service', running(42));
    await vi.advanceTimersByTimeAsync(5);
    expect(await first).toMatchObject({ tasks: 3, memoryBytes: 4096, usageSource: 'systemd' });
    expect(gets).toHaveLength(2);
    await sampler.usage('a.service', running(42));
    expect(gets).toHaveLength(2);
    const restarted = sampler.usage('a.service', running(43));
    const fresh = sampler.usage('a.service', running(43), { fresh: true }); // joins the read in flight
    await vi.advanceTimersByTimeAsync(5);
    expect(await fresh).toBe(await restarted);
    expect(gets).toHaveLength(4);
  });

  it('has no figures for a unit that runs nothing, and reads nothing for it', async () => {
    const { manager, gets } = accountingOn(5);
    const sampler = new UsageSampler(unitsOf([], manager));
    const stopped = readServiceState({ ActiveState: 'inactive', SubState: 'dead' });
    expect(await sampler.usage('a.service', stopped, { fresh: true })).toEqual({ usageSource: 'none' });
    expect(gets).toEqual([]);
  });
});
