import { describe, expect, it } from 'vitest';
import { hasProcesses, hasStarted, knownCounter, readServiceState } from '../../src/systemd/serviceState.js';

const UINT64_MAX = 2n ** 64n - 1n;

describe("systemd's unit states, read once for everyone", () => {
  it('a unit has (or is getting) processes in every ActiveState but inactive and failed', () => {
    for (const state of ['active', 'reloading', 'activating', 'deactivating', 'maintenance', 'refreshing']) expect(hasProcesses(state)).toBe(true);
    for (const state of ['inactive', 'failed', '', undefined]) expect(hasProcesses(state)).toBe(false);
  });

  it('a unit has started in its current activation only in the states reached through active', () => {
    for (const state of ['active', 'reloading', 'deactivating']) expect(hasStarted(state)).toBe(true);
    for (const state of ['activating', 'inactive', 'failed', '']) expect(hasStarted(state)).toBe(false);
  });

  it('UINT64_MAX is "not known" for counters and "never" for timestamps', () => {
    expect(knownCounter(UINT64_MAX)).toBeUndefined();
    expect(knownCounter(0n)).toBe(0);
    expect(knownCounter(4096n)).toBe(4096);
    const state = readServiceState({ TasksCurrent: UINT64_MAX, MemoryCurrent: 8192n, ActiveEnterTimestamp: UINT64_MAX, StateChangeTimestamp: 1_700_000_000_000_000n });
    expect(state).toMatchObject({ TasksCurrent: undefined, MemoryCurrent: 8192, ActiveEnterTimestamp: undefined });
    expect(state.StateChangeTimestamp?.getTime()).toBe(1_700_000_000_000);
  });
});
