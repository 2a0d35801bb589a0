import { credentials, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type HealthCheckResponse,
  HealthCheckResponse_ServingStatus as Serving,
  HealthClient,
} from '../../gen/grpc/health/v1/health.js';
import { type Harness, rpc, rpcError, startHarness, waitFor } from './harness.js';

let h: Harness;
let health: HealthClient;
beforeAll(async () => {
  h = await startHarness();
  health = new HealthClient(h.address, credentials.createInsecure());
});
afterAll(async () => {
  health?.close();
  await h?.stop();
});

function check(service: string): Promise<HealthCheckResponse> {
  return new Promise((resolve, reject) =>
    health.check({ service }, (error, response) => (error ? reject(error) : resolve(response))),
  );
}

describe('grpc.health.v1.Health', () => {
  it('is SERVING overall and for StreamService while systemd is reachable', async () => {
    expect((await check('')).status).toBe(Serving.SERVING);
    expect((await check('lit.stream.v1.StreamService')).status).toBe(Serving.SERVING);
  });

  it('answers NOT_FOUND for a service it does not serve', async () => {
    await expect(check('no.such.Service')).rejects.toMatchObject({ code: status.NOT_FOUND });
  });

  it('goes NOT_SERVING when the bus goes away, answers UNAVAILABLE meanwhile, and recovers by itself', async () => {
    const seen: Serving[] = [];
    const watch = health.watch({ service: '' });
    watch.on('data', (response: HealthCheckResponse) => seen.push(response.status));
    watch.on('error', () => undefined);
    await waitFor(() => seen.includes(Serving.SERVING), 5_000, 'the initial SERVING');

    // Kill the sandbox's dbus-daemon: our connection drops. dbus.socket re-activates the daemon
    // on the next connection attempt, and systemd re-registers on it.
    const [daemon] = await h.sandbox.withManager((manager) => manager.GetUnitProcesses('dbus.service'));
    expect(daemon?.pid).toBeGreaterThan(1);
    process.kill(daemon!.pid, 'SIGKILL');

    await waitFor(() => seen.includes(Serving.NOT_SERVING), 5_000, 'NOT_SERVING');
    await waitFor(() => seen.lastIndexOf(Serving.SERVING) > seen.indexOf(Serving.NOT_SERVING), 15_000, 'SERVING again');
    watch.cancel();

    const response = await rpc(h.client, h.client.getStatus, { team: 'contoso', name: 'bitcoin' });
    expect(response.status?.name).toBe('bitcoin');
    expect(h.logs.some((line) => line.msg === 'lost the connection to systemd; reconnecting')).toBe(true);
  });

  it('answers UNAVAILABLE with the reason while systemd is gone', async () => {
    await h.sandbox.shutdown();
    await waitFor(async () => (await check('')).status === Serving.NOT_SERVING, 5_000, 'NOT_SERVING');
    const error = await rpcError(h.client, h.client.getStatus, { team: 'contoso', name: 'bitcoin' });
    expect(error.code).toBe(status.UNAVAILABLE);
    expect(error.details).toContain('systemd is unreachable');
  });

  it('answers a WatchStatus begun while systemd is gone with UNAVAILABLE, for one stream and for a team', async () => {
    for (const name of ['bitcoin', '']) {
      const call = h.client.watchStatus({ team: 'contoso', name });
      const ended = await new Promise<{ code: number; details: string }>((resolve) => {
        call.on('data', () => resolve({ code: status.OK, details: 'a message' }));
        call.on('error', (e: { code: number; details: string }) => resolve(e));
        call.on('end', () => resolve({ code: status.OK, details: 'the end' }));
      });
      call.cancel();
      expect(ended.code, `WatchStatus{team, name: '${name}'}`).toBe(status.UNAVAILABLE);
      expect(ended.details).toContain('systemd is unreachable');
    }
  });
});
