import { status } from '@grpc/grpc-js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ActionStatus } from '../../gen/lit/stream/v1/stream.js';
import { FIXTURE_UNITS, type Harness, rpc, rpcError, startHarness, waitFor } from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness(FIXTURE_UNITS);
});
afterAll(async () => {
  await h?.stop();
});

/** `slow` spends 2 s in ExecStartPre, so its start (and restart) job stays running that long. */
const slow = { team: 'contoso', name: 'slow' };
const slowUnit = 'lit-stream-contoso@slow.service';

async function activating(unit: string): Promise<void> {
  await waitFor(async () => (await h.unitState(unit)).ActiveState === 'activating', 10_000, `${unit} to be activating`);
}

afterEach(async () => {
  await rpc(h.client, h.client.stop, slow);
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
