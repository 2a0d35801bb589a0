import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LaterActions } from '../../src/control/laterActions.js';
import { restartBaseline, settleApplies } from '../../src/control/settleWindow.js';
import type { UnitReads } from '../../src/control/systemdPort.js';
import type { Action } from '../../src/core/status.js';
import { SERVICE_INTERFACE } from '../../src/systemd/manager.js';
import { readServiceState } from '../../src/systemd/serviceState.js';

const UNIT = 'lit-stream-contoso@bitcoin.service';

/** systemd's NRestarts for the unit, recording each read. */
function nRestarts(value: number): Pick<UnitReads, 'getUnitProperty'> & { reads: string[] } {
  const reads: string[] = [];
  return { reads, getUnitProperty: async (unit, iface, name) => (reads.push(`${unit} ${iface} ${name}`), value) };
}

const state = (ActiveState: string, SubState: string) => readServiceState({ ActiveState, SubState, NRestarts: 99 });

describe('the restart count a start counts from (restartBaseline)', () => {
  it.each<['start' | 'restart', string, string, number]>([
    // Stopped: systemd zeroes NRestarts as the unit starts (flush_n_restarts).
    ['start', 'inactive', 'dead', 0],
    ['start', 'failed', 'failed', 0],
    ['restart', 'inactive', 'dead', 0],
    ['restart', 'failed', 'failed', 0],
    // A Restart stops the unit first, which zeroes it too.
    ['restart', 'active', 'running', 0],
    ['restart', 'activating', 'start', 0],
    ['restart', 'deactivating', 'stop-sigterm', 0],
    // Running or on its way: systemd's current count.
    ['start', 'active', 'running', 7],
    ['start', 'reloading', 'reload', 7],
    ['start', 'activating', 'start-pre', 7],
    ['start', 'deactivating', 'stop-sigterm', 7],
    // About to be restarted by systemd itself: a stop from there does not zero it, for either action.
    ['start', 'activating', 'auto-restart', 7],
    ['restart', 'activating', 'auto-restart', 7],
    ['start', 'failed', 'auto-restart', 7],
  ])('%s of a unit %s/%s counts from %i', async (action, active, sub, expected) => {
    const systemd = nRestarts(7);
    expect(await restartBaseline(action, UNIT, state(active, sub), systemd)).toBe(expected);
    expect(systemd.reads).toEqual(expected === 0 ? [] : [`${UNIT} ${SERVICE_INTERFACE} NRestarts`]);
  });

  it('counts from 0 without asking when the view knows nothing of the unit (not loaded: it starts afresh)', async () => {
    const systemd = nRestarts(7);
    expect(await restartBaseline('start', UNIT, undefined, systemd)).toBe(0);
    expect(systemd.reads).toEqual([]);
  });

  it("asks systemd exactly when the count survives the job, and then takes systemd's number", async () => {
    const activeStates = ['active', 'reloading', 'inactive', 'failed', 'activating', 'deactivating', 'maintenance', ''];
    const subStates = ['running', 'dead', 'failed', 'auto-restart', 'start', 'stop-sigterm', 'exited', 'reload'];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<'start' | 'restart'>('start', 'restart'),
        fc.constantFrom(...activeStates),
        fc.constantFrom(...subStates),
        fc.nat(1000),
        async (action, active, sub, count) => {
          const systemd = nRestarts(count);
          const survives = sub === 'auto-restart' || (action === 'start' && !['inactive', 'failed', ''].includes(active));
          expect(await restartBaseline(action, UNIT, state(active, sub), systemd)).toBe(survives ? count : 0);
          expect(systemd.reads).toHaveLength(survives ? 1 : 0);
        },
      ),
    );
  });
});

describe('which service types the window applies to', () => {
  it.each([
    ['simple', true],
    ['exec', true],
    ['forking', true],
    ['dbus', true],
    ['idle', true],
    ['oneshot', false],
    ['notify', false],
    ['notify-reload', false],
  ])('Type=%s: %s', (type, applies) => {
    expect(settleApplies(type)).toBe(applies);
  });
});

describe('later actions (what ends a window early)', () => {
  function sent(later: LaterActions, unit: string, action: Action) {
    const turn = later.follow(unit, action);
    turn.sending();
    return turn;
  }

  it('tells an action that a Stop or Restart of its unit was sent after it', () => {
    const later = new LaterActions();
    for (const by of ['stop', 'restart'] as const) {
      const start = sent(later, UNIT, 'start');
      expect(start.interrupted.signal.aborted).toBe(false);
      sent(later, UNIT, by).end();
      expect(start.interrupted.signal.reason).toEqual({ supersededBy: by });
      start.end();
    }
  });

  it('does not count a later Start, an action on another unit, or one sent before its own', () => {
    const later = new LaterActions();
    const start = later.follow(UNIT, 'start');
    sent(later, UNIT, 'stop').end(); // before this start was sent
    start.sending();
    sent(later, UNIT, 'start').end();
    sent(later, 'lit-stream-contoso@other.service', 'stop').end();
    expect(start.interrupted.signal.aborted).toBe(false);
    start.end();
  });

  it('keeps the first reason: a second later action changes nothing', () => {
    const later = new LaterActions();
    const start = sent(later, UNIT, 'start');
    sent(later, UNIT, 'restart').end();
    sent(later, UNIT, 'stop').end();
    expect(start.interrupted.signal.reason).toEqual({ supersededBy: 'restart' });
    start.end();
  });

  it('forgets an action once it has its answer', () => {
    const later = new LaterActions();
    const turns = [sent(later, UNIT, 'start'), sent(later, UNIT, 'restart'), later.follow('lit-stream-contoso@other.service', 'stop')];
    expect(later.followedUnits).toBe(2);
    for (const turn of turns) turn.end();
    expect(later.followedUnits).toBe(0);
    const ended = turns[0]!;
    sent(later, UNIT, 'stop').end();
    expect(ended.interrupted.signal.reason).toEqual({ supersededBy: 'restart' });
  });
});
