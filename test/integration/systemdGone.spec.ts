import { credentials, status } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { HealthCheckResponse_ServingStatus as Serving, HealthClient } from '../../gen/grpc/health/v1/health.js';
import { ActionStatus } from '../../gen/lit/stream/v1/stream.js';
import { busConnectionsOf, busDaemonPid, converged, currentSession, reconnected, watchTeam } from './faults.js';
import { FIXTURE_UNITS, type Harness, rpc, rpcError, startHarness, waitFor } from './harness.js';

/**
 * Issue 7 item 6: calls waiting on a systemd that is gone or frozen end promptly with UNAVAILABLE,
 * health says NOT_SERVING meanwhile, and new calls fail fast. Each case has its own sandbox. The
 * server here pings systemd every 200 ms and gives it 1 s (the defaults, 1 s and 5 s, would only
 * make the frozen cases slower).
 */
const LIVENESS = { intervalMs: 200, timeoutMs: 1_000 };
let h: Harness | undefined;
let health: HealthClient | undefined;
let resume: (() => void) | undefined;
afterEach(async () => {
  resume?.();
  resume = undefined;
  health?.close();
  await h?.stop();
  h = undefined;
});

async function boot(): Promise<Harness> {
  h = await startHarness(FIXTURE_UNITS, { systemdLiveness: LIVENESS });
  health = new HealthClient(h.address, credentials.createInsecure());
  return h;
}

function serving(): Promise<Serving> {
  return new Promise((resolve, reject) => health!.check({ service: '' }, (error, response) => (error ? reject(error) : resolve(response.status))));
}

/** Settles with the call's outcome, or with 'still pending' once `ms` have passed. */
async function within<T>(ms: number, call: Promise<T>): Promise<T | { code: number; details: string } | 'still pending'> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'still pending'>((resolve) => (timer = setTimeout(() => resolve('still pending'), ms)));
  try {
    return await Promise.race([call.catch((error: { code: number; details: string }) => error), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** A Start of `slow` (2 s in ExecStartPre) without a deadline, once its job runs in systemd. */
async function startSlowWithoutDeadline(h: Harness): Promise<{ starting: Promise<unknown> }> {
  const starting = rpc(h.client, h.client.start, { team: 'contoso', name: 'slow' }, Infinity);
  await waitFor(async () => (await h.unitState('lit-stream-contoso@slow.service')).ActiveState === 'activating', 5_000, 'the start job to run');
  starting.catch(() => undefined); // looked at later
  return { starting };
}

async function newCallsFailFast(h: Harness): Promise<void> {
  const t0 = Date.now();
  const error = await rpcError(h.client, h.client.getStatus, { team: 'contoso', name: 'bitcoin' }, 10_000);
  expect(error.code).toBe(status.UNAVAILABLE);
  expect(Date.now() - t0).toBeLessThan(1_000);
}

describe('systemd killed during a Start', () => {
  it('the Start ends with UNAVAILABLE within seconds, health goes NOT_SERVING, and new calls fail at once', async () => {
    const h = await boot();
    const { starting } = await startSlowWithoutDeadline(h);
    process.kill(h.sandbox.pid, 'SIGKILL');

    const outcome = await within(3_000, starting);
    expect(outcome).toMatchObject({ code: status.UNAVAILABLE });
    await waitFor(async () => (await serving()) === Serving.NOT_SERVING, 1_000, 'NOT_SERVING');
    await newCallsFailFast(h);
  });
});

/**
 * Freezes a process of the sandbox (systemd or its bus daemon) during a Start and checks what
 * callers see while it is frozen and after it runs again.
 */
async function frozenDuringAStart(h: Harness, pid: number): Promise<void> {
  await rpc(h.client, h.client.start, { team: 'contoso', name: 'bitcoin' });
  const worker = (await h.unitState('lit-stream-contoso@bitcoin.service')).MainPID!;
  const watch = watchTeam(h, 'contoso');
  await waitFor(() => watch.lastSeen().has('slow') && watch.lastSeen().has('bitcoin'), 5_000, 'the initial statuses');
  const { starting } = await startSlowWithoutDeadline(h);
  const before = currentSession(h);
  process.kill(pid, 'SIGSTOP');
  resume = () => process.kill(pid, 'SIGCONT');
  // Behind the server's back while nothing can reach it: a worker dies.
  process.kill(worker, 'SIGKILL');

  expect(await within(LIVENESS.timeoutMs + 3_000, starting)).toMatchObject({ code: status.UNAVAILABLE });
  expect(await serving()).toBe(Serving.NOT_SERVING);
  await newCallsFailFast(h);

  resume();
  resume = undefined;
  await reconnected(h, before, 15_000);
  expect(await serving()).toBe(Serving.SERVING);
  // The worker's death, and the slow start going on in systemd. ListStreams and the watch first: a GetStatus would
  // re-read the units it inspects.
  expect(await converged(h, 'contoso', ['bitcoin', 'slow'], [watch])).toEqual([]);
  watch.call.cancel();
  expect(await busConnectionsOf(h.sandbox, process.pid)).toEqual([currentSession(h)!.connection.uniqueName]);
  expect((await rpc(h.client, h.client.stop, { team: 'contoso', name: 'slow' })).status).toBe(ActionStatus.ACTION_STATUS_SUCCESS);
}

describe('systemd frozen (SIGSTOP)', () => {
  it('a Start waiting on it ends with UNAVAILABLE, health is NOT_SERVING and new calls fail fast until it runs again; then all is as before, on one connection', async () => {
    const h = await boot();
    await frozenDuringAStart(h, h.sandbox.pid);
  });
});

describe('the bus daemon frozen (SIGSTOP)', () => {
  it('a Start waiting across it ends with UNAVAILABLE, health is NOT_SERVING and new calls fail fast until it runs again; then all is as before, on one connection', async () => {
    const h = await boot();
    await frozenDuringAStart(h, await busDaemonPid(h.sandbox));
  });
});
