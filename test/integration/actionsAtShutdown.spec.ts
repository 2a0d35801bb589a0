import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURE_UNITS, type Harness, STUCK_STREAM_UNITS, rpcError, startHarness, waitFor } from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ ...FIXTURE_UNITS, ...STUCK_STREAM_UNITS });
});
afterAll(async () => {
  await h?.stop();
});

const stuck = { team: 'contoso', name: 'stuck' };
const unit = 'lit-stream-contoso@stuck.service';

/** The type of a job systemd holds (org.freedesktop.systemd1(5), "Job Objects": JobType). */
function jobType(jobPath: string): Promise<unknown> {
  return h.sandbox.withManager(async (manager) => {
    const [variant] = (await manager.connection.call({
      destination: 'org.freedesktop.systemd1',
      path: jobPath,
      interface: 'org.freedesktop.DBus.Properties',
      member: 'Get',
      signature: 'ss',
      body: ['org.freedesktop.systemd1.Job', 'JobType'],
    })) as [{ value: unknown }];
    return variant.value;
  });
}

describe('shutdown with actions queued past the grace period', () => {
  it('sends none of the queued actions, and tells a caller whose job runs on that it is still running in systemd', async () => {
    const start = rpcError(h.client, h.client.start, stuck, Number.POSITIVE_INFINITY).then((error) => ({ error, at: Date.now() }));
    await waitFor(async () => (await h.unitState(unit)).ActiveState === 'activating', 10_000, 'the start job to run');
    const restart = rpcError(h.client, h.client.restart, stuck, Number.POSITIVE_INFINITY).then((error) => ({ error, at: Date.now() }));
    await waitFor(() => h.server.controller.queuedActions(unit) === 1, 10_000, 'the Restart to be queued');

    const stopped = h.server.shutdown(1_000);
    const refused = await restart;
    expect(refused.error.code).toBe(status.UNAVAILABLE);
    expect(refused.error.details).toContain('the restart was not sent to systemd');

    const told = await start;
    expect(told.error.code).toBe(status.UNAVAILABLE);
    expect(told.error.details).toContain('still running in systemd');
    // Refused when the shutdown began, not when the grace period ended.
    expect(refused.at).toBeLessThan(told.at);
    const jobPath = /\/org\/freedesktop\/systemd1\/job\/\d+/.exec(told.error.details)?.[0];
    expect(jobPath).toBeDefined();
    await stopped;

    // systemd holds exactly what the callers were told: that start job, still running, and no restart.
    const [, unitJob] = (await h.sandbox.withManager((manager) =>
      manager.getUnitProperty(unit, 'org.freedesktop.systemd1.Unit', 'Job'),
    )) as [number, string];
    expect(unitJob).toBe(jobPath);
    expect(await jobType(unitJob)).toBe('start');
    expect((await h.unitState(unit)).ActiveState).toBe('activating');
    await h.sandbox.withManager((manager) => manager.StopUnit(unit, 'replace'));
  });
});
