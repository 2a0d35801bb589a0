import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeSharedClients, Stream } from '../../clients/typescript/src/index.js';
import { ActiveState, UsageSource } from '../../gen/lit/stream/v1/stream.js';
import { trackingCgroupDir } from '../../src/systemd/cgroups.js';
import { FIXTURE_UNITS, type Harness, rpc, startHarness, waitFor } from './harness.js';

/** Processes in the crowded stream: thousands, as a worker pool gone wrong might have. */
const CROWD = 1_000;

let h: Harness;
beforeAll(async () => {
  h = await startHarness({
    ...FIXTURE_UNITS,
    // One perl process touches 16 MiB, then forks CROWD children that share it (copy-on-write)
    // and sleep: every child's smaps_rollup walks those pages, as a real worker pool's would.
    // perl-base is Essential in Debian, so it is there wherever systemd is.
    'lit-stream-contoso@crowd.service':
      `[Service]\nType=exec\nExecStart=/usr/bin/perl -e '$$m = "x" x (16 << 20); for (1..${CROWD}) { if (!fork) { sleep; exit } } sleep'\n` +
      'KillMode=control-group\nTasksMax=infinity\n',
  });
}, 120_000);
afterAll(async () => {
  await h?.stop();
}, 120_000);

const crowd = { team: 'contoso', name: 'crowd' };
const crowdUnit = 'lit-stream-contoso@crowd.service';
const bitcoin = { team: 'contoso', name: 'bitcoin' };

function processesOf(controlGroup: string): number {
  return readFileSync(`${trackingCgroupDir(controlGroup)}/cgroup.procs`, 'utf8').split('\n').filter(Boolean).length;
}

describe('usage sampling of a stream with thousands of processes', () => {
  it("leaves other streams' GetStatus unaffected, and says the crowded stream's figures are partial", async () => {
    await rpc(h.client, h.client.start, bitcoin);
    await rpc(h.client, h.client.start, crowd);
    const { ControlGroup } = await h.unitState(crowdUnit);
    await waitFor(() => processesOf(ControlGroup!) > CROWD, 60_000, `${CROWD} processes in ${crowdUnit}`);

    // For 3 s, keep asking for the crowded stream's status, one call after another, each reading it
    // afresh (fresh_usage), while timing GetStatus of another stream.
    const until = Date.now() + 3_000;
    let crowdSamples = 0;
    const askCrowd = async () => {
      while (Date.now() < until) {
        await rpc(h.client, h.client.getStatus, { ...crowd, freshUsage: true }, 60_000);
        crowdSamples++;
      }
    };
    const latencies: number[] = [];
    const askOther = async () => {
      while (Date.now() < until) {
        const startedAt = performance.now();
        await rpc(h.client, h.client.getStatus, bitcoin);
        latencies.push(performance.now() - startedAt);
      }
    };
    await Promise.all([askCrowd(), askOther()]);
    expect(crowdSamples).toBeGreaterThan(0);
    latencies.sort((a, b) => a - b);
    const worst = latencies.at(-1)!;
    console.log(`GetStatus of another stream: ${latencies.length} calls (crowded stream: ${crowdSamples}), p50 ${latencies[latencies.length >> 1]!.toFixed(1)} ms, worst ${worst.toFixed(1)} ms`);
    // A GetStatus takes a few ms here; while a sample of the crowd was read whole on the event
    // loop, it took as long as that sample: 2.4 s on the 2-core machine these specs run on. The
    // bound leaves room for that machine under load.
    expect(worst).toBeLessThan(1_000);

    const { status: s } = await rpc(h.client, h.client.getStatus, crowd, 60_000);
    expect(s!.activeState).toBe(ActiveState.ACTIVE_STATE_ACTIVE);
    expect(s!.usageSource).toBe(UsageSource.USAGE_SOURCE_PROCFS);
    expect(s!.usagePartial).toBe(true);
    expect(s!.tasks).toBeGreaterThan(0);
    expect(s!.memoryBytes).toBeGreaterThan(0);

    const { status: other } = await rpc(h.client, h.client.getStatus, bitcoin);
    expect(other!.usagePartial).toBe(false);

    // The client library passes it on: its formatted memory and tasks are lower bounds here.
    const viaClient = await new Stream('contoso', 'crowd', { address: h.address, deadlineMs: 60_000 }).status({ logLines: 0 }).finally(closeSharedClients);
    expect(viaClient.details).toMatchObject({ usageSource: 'procfs', usagePartial: true });
    expect(viaClient.memory).toMatch(/^\d+(B|\.\d[KMGTPE])$/);
  }, 120_000);
});
