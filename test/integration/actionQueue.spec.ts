import { status } from '@grpc/grpc-js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ActionStatus, ActiveState } from '../../gen/lit/stream/v1/stream.js';
import { FIXTURE_UNITS, type Harness, STUCK_STREAM_UNITS, rpc, rpcError, startHarness, waitFor } from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ ...FIXTURE_UNITS, ...STUCK_STREAM_UNITS });
});
afterAll(async () => {
  await h?.stop();
});

/** `slow` spends 2 s in ExecStartPre, so its start (and restart) job stays running that long. */
const slow = { team: 'contoso', name: 'slow' };
const slowUnit = 'lit-stream-contoso@slow.service';
const stuck = { team: 'contoso', name: 'stuck' };
const stuckUnit = 'lit-stream-contoso@stuck.service';

/** No caller deadline at all (grpc-js: Infinity). */
const NO_DEADLINE = Number.POSITIVE_INFINITY;

async function activating(unit: string): Promise<void> {
  await waitFor(async () => (await h.unitState(unit)).ActiveState === 'activating', 10_000, `${unit} to be activating`);
}

/** Callers waiting in the server's queue for the unit (not yet sent to systemd). */
function queued(unit: string, count: number): Promise<void> {
  return waitFor(() => h.server.controller.queuedActions(unit) === count, 10_000, `${count} actions queued for ${unit}`);
}

afterEach(async () => {
  // Straight to systemd, so that a spec that failed with a call still stuck cannot hold the next.
  for (const unit of [slowUnit, stuckUnit]) await h.sandbox.withManager((manager) => manager.StopUnit(unit, 'replace'));
});

describe('the per-stream queue: first come, first served', () => {
  it('keeps a Restart waiting for the running one even after a Restart queued between them gave up', async () => {
    const first = rpc(h.client, h.client.restart, slow);
    await activating(slowUnit);
    const gaveUp = await rpcError(h.client, h.client.restart, slow, 300);
    expect(gaveUp.code).toBe(status.DEADLINE_EXCEEDED);
    const third = rpc(h.client, h.client.restart, slow);

    expect((await first).status).toBe(ActionStatus.ACTION_STATUS_SUCCESS);
    const firstAnsweredAt = Date.now();
    expect((await third).status).toBe(ActionStatus.ACTION_STATUS_SUCCESS);
    // The third Restart got a job of its own, started once the first had finished: the unit last
    // became active after the first answer (had it been merged into the first job, or replaced
    // it, the unit would have become active before that answer).
    const { ActiveEnterTimestamp } = await h.unitState(slowUnit);
    expect(ActiveEnterTimestamp!.getTime()).toBeGreaterThan(firstAnsweredAt);
  });
});

describe('Stop never waits behind a Start', () => {
  it('replaces a start job that never finishes, at once; the Start answers FAILURE, job result canceled', async () => {
    const start = rpc(h.client, h.client.start, stuck, NO_DEADLINE);
    await activating(stuckUnit);
    const stop = await rpc(h.client, h.client.stop, stuck, 10_000);
    expect(stop.status).toBe(ActionStatus.ACTION_STATUS_SUCCESS);
    expect(stop.stream?.activeState).toBe(ActiveState.ACTIVE_STATE_INACTIVE);

    const started = await start;
    expect(started.status).toBe(ActionStatus.ACTION_STATUS_FAILURE);
    expect(started.jobResult).toBe('canceled');
    expect(started.message).toContain("start job ended 'canceled'");
    expect((await h.unitState(stuckUnit)).ActiveState).toBe('inactive');
  });

  it('replaces a running restart job the same way', async () => {
    const restart = rpc(h.client, h.client.restart, stuck, NO_DEADLINE);
    await activating(stuckUnit);
    expect((await rpc(h.client, h.client.stop, stuck, 10_000)).status).toBe(ActionStatus.ACTION_STATUS_SUCCESS);
    const restarted = await restart;
    expect(restarted.status).toBe(ActionStatus.ACTION_STATUS_FAILURE);
    expect(restarted.jobResult).toBe('canceled');
    expect((await h.unitState(stuckUnit)).ActiveState).toBe('inactive');
  });

  it('cancels the Starts and Restarts still queued before it: they answer FAILURE, canceled, and never start the stream again', async () => {
    const start = rpc(h.client, h.client.start, slow);
    await activating(slowUnit);
    const restart = rpc(h.client, h.client.restart, slow);
    await queued(slowUnit, 1);

    const stop = await rpc(h.client, h.client.stop, slow, 10_000);
    expect(stop.status).toBe(ActionStatus.ACTION_STATUS_SUCCESS);
    expect((await start).jobResult).toBe('canceled');

    const restarted = await restart;
    expect(restarted.status).toBe(ActionStatus.ACTION_STATUS_FAILURE);
    expect(restarted.jobResult).toBe('canceled');
    expect(restarted.message).toContain('canceled before it was sent to systemd');
    expect(h.server.controller.queuedActions(slowUnit)).toBe(0);
    // Not running (killed in ExecStartPre, the unit records that as `failed`), and nothing starts it.
    expect(['inactive', 'failed']).toContain((await h.unitState(slowUnit)).ActiveState);
  });

  it('still lets a Restart that arrives during a slow Start wait for it, and DEADLINE_EXCEEDED if its deadline passes in the queue', async () => {
    const start = rpc(h.client, h.client.start, slow);
    await activating(slowUnit);
    const error = await rpcError(h.client, h.client.restart, slow, 300);
    expect(error.code).toBe(status.DEADLINE_EXCEEDED);
    expect((await start).status).toBe(ActionStatus.ACTION_STATUS_SUCCESS);
  });
});
