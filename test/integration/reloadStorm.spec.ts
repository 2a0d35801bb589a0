import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActiveState } from '../../gen/lit/stream/v1/stream.js';
import { BusConnection } from '../../src/systemd/busConnection.js';
import { SystemdManager } from '../../src/systemd/manager.js';
import { systemdSays } from './faults.js';
import { type Harness, rpc, startHarness } from './harness.js';

/**
 * Issue 7 item 5: reads keep answering through a storm of daemon-reloads, with the last known
 * state, instead of waiting for resynchronisations that keep restarting. (Latency targets belong
 * in bench/; the bound here is loose — a read is not held for a reload's duration, let alone the
 * storm's — so that a loaded CI machine passes it.)
 */
let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.stop();
});

const RELOADS = 20;

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

describe(`${RELOADS} daemon-reloads in a row`, () => {
  it('GetStatus and ListStreams answer throughout, with the last known state, each far sooner than the storm lasts', async () => {
    await rpc(h.client, h.client.start, { team: 'contoso', name: 'bitcoin' });
    const pid = (await systemdSays(h.sandbox, 'contoso', ['bitcoin'])).get('bitcoin')?.mainPid;

    const connection = await BusConnection.open(h.sandbox.busAddress);
    const manager = new SystemdManager(connection);
    let reloading = true;
    const stormStart = performance.now();
    const storm = (async () => {
      try {
        for (let i = 0; i < RELOADS; i++) await manager.Reload();
      } finally {
        reloading = false;
      }
    })();

    const latencies: number[] = [];
    try {
      while (reloading) {
        const t0 = performance.now();
        const [{ status }, { streams }] = await Promise.all([
          rpc(h.client, h.client.getStatus, { team: 'contoso', name: 'bitcoin' }),
          rpc(h.client, h.client.listStreams, { team: 'contoso', pageSize: 0, pageToken: '' }),
        ]);
        latencies.push(performance.now() - t0);
        expect(status).toMatchObject({ activeState: ActiveState.ACTIVE_STATE_ACTIVE, mainPid: pid });
        expect(streams.find((s) => s.name === 'bitcoin')?.activeState).toBe(ActiveState.ACTIVE_STATE_ACTIVE);
      }
      await storm;
    } finally {
      connection.close();
    }
    const stormMs = performance.now() - stormStart;
    const p99 = percentile(latencies, 99);
    // The storm is long enough for a read that waited for it to show.
    expect(stormMs).toBeGreaterThan(1_000);
    expect(latencies.length).toBeGreaterThan(20);
    expect(p99, `p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${p99.toFixed(1)} ms over ${latencies.length} reads in a ${stormMs.toFixed(0)} ms storm`).toBeLessThan(
      Math.min(500, stormMs / 4),
    );
  }, 90_000);
});
