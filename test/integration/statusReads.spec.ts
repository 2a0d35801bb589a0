import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActiveState, type StreamStatus, UsageSource } from '../../gen/lit/stream/v1/stream.js';
import { trackingCgroupDir } from '../../src/systemd/cgroups.js';
import { recordFileReads } from '../support/fileReads.js';
import { currentSession, monitorBus } from './faults.js';
import { FIXTURE_UNITS, type Harness, rpc, startHarness, waitFor } from './harness.js';

/**
 * GetStatus answers from memory: the unit's state from systemd's signals, its tasks and memory from
 * the background sampler, which walks the running declared streams — here every 300 ms, so that
 * the specs see several walks — and says how old its figures are (usage_age).
 */
const SAMPLING = { intervalMs: 300, maxShare: 1 };
/** What the server reads of the machine: processes, cgroups. */
const MACHINE = ['/proc/', '/sys/'];

/** Tracked by the server (its name matches every stream's pattern) but not a stream: a dot is no stream name. */
const NOT_A_STREAM = 'lit-stream-contoso@not.a.stream.service';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ ...FIXTURE_UNITS, [NOT_A_STREAM]: { link: 'lit-stream-contoso@.service' } }, { usageSampling: SAMPLING });
}, 120_000);
afterAll(async () => {
  await h?.stop();
});

const contoso = (name: string) => ({ team: 'contoso', name });
const unitOf = (name: string) => `lit-stream-contoso@${name}.service`;
const status = async (name: string, freshUsage?: boolean): Promise<StreamStatus> =>
  (await rpc(h.client, h.client.getStatus, { ...contoso(name), freshUsage })).status!;
const ageMs = (s: StreamStatus) => (s.usageAge ? s.usageAge.seconds * 1000 + s.usageAge.nanos / 1e6 : undefined);

/** Resolves once the sampler has completed `count` more walks than now. */
async function walks(count: number): Promise<void> {
  const target = h.server.view.sampling.walks + count;
  await waitFor(() => h.server.view.sampling.walks >= target, 10_000, `${count} more walks of the usage sampler`);
}

/**
 * Runs `work` between two walks of the sampler (its reads are not GetStatus's), trying again when
 * a walk began or ended meanwhile; answers what `work` answered.
 */
async function betweenWalks<T>(work: () => Promise<T>): Promise<T> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const { walks: before, scheduled } = h.server.view.sampling;
    if (!scheduled) {
      await walks(1);
      continue;
    }
    const result = await work();
    const after = h.server.view.sampling;
    if (after.scheduled && after.walks === before) return result;
  }
  throw new Error('no window between two walks of the sampler in 50 attempts');
}

describe('GetStatus from memory', () => {
  it('asks systemd nothing and reads nothing of /proc or /sys in steady state, running and stopped streams alike', async () => {
    const server = currentSession(h)!.connection.uniqueName!;
    const monitor = await monitorBus(h.sandbox, [`type='method_call',sender='${server}'`]);
    try {
      await rpc(h.client, h.client.start, contoso('bitcoin'));
      await rpc(h.client, h.client.start, contoso('ethereum'));
      // Steady state: systemd loaded both afresh to start them, which the first status of each reads
      // whole (once), and walks of the sampler have read their usage since.
      await status('bitcoin');
      await status('ethereum');
      await walks(2);
      const { answers, reads } = await betweenWalks(async () => {
        monitor.messages.length = 0;
        const recorded = recordFileReads(MACHINE);
        try {
          const answers: StreamStatus[] = [];
          for (let i = 0; i < 5; i++) {
            for (const name of ['bitcoin', 'ethereum', 'crash', 'masked', 'slow']) answers.push(await status(name));
          }
          return { answers, reads: [...recorded.paths] };
        } finally {
          recorded.stop();
        }
      });
      await monitor.caughtUp();
      // The server's liveness pings go to systemd whatever happens; nothing else may.
      const asked = monitor.messages.filter((m) => m.sender === server && m.member !== 'Ping').map((m) => `${m.interface}.${m.member} ${m.path}`);
      expect(asked).toEqual([]);
      expect(reads).toEqual([]);
      const running = answers.filter((s) => s.name === 'bitcoin' || s.name === 'ethereum');
      for (const s of running) {
        expect(s.activeState).toBe(ActiveState.ACTIVE_STATE_ACTIVE);
        expect(s.usageSource).toBe(UsageSource.USAGE_SOURCE_PROCFS);
        expect(s.tasks).toBeGreaterThanOrEqual(1);
        expect(s.memoryBytes).toBeGreaterThan(0);
        expect(ageMs(s)).toBeGreaterThanOrEqual(0);
      }
    } finally {
      monitor.stop();
    }
  });

  it("usage_age grows between the sampler's readings and starts over with each", async () => {
    await rpc(h.client, h.client.start, contoso('bitcoin'));
    const ages: number[] = [];
    await waitFor(
      async () => {
        ages.push(ageMs(await status('bitcoin'))!);
        return ages.length > 2 && ages.at(-1)! < ages.at(-2)!;
      },
      10_000,
      'a new reading of bitcoin by the sampler',
    );
    const reset = ages.length - 1;
    // Until the new reading, each answer's figures were older than the one before.
    for (let i = 1; i < reset; i++) expect(ages[i]!, `answer ${i} of ${JSON.stringify(ages)}`).toBeGreaterThan(ages[i - 1]!);
    expect(reset, JSON.stringify(ages)).toBeGreaterThanOrEqual(2);
  });

  it('fresh_usage measures now, and later reads serve that measurement', async () => {
    await rpc(h.client, h.client.start, contoso('bitcoin'));
    const { ControlGroup } = await h.unitState(unitOf('bitcoin'));
    const cgroup = trackingCgroupDir(ControlGroup!);
    // Figures there are, so a plain read would answer from memory.
    expect((await status('bitcoin')).usageSource).toBe(UsageSource.USAGE_SOURCE_PROCFS);
    // Between walks, so the figures cannot come from a walk's reading that began before the call.
    const { fresh, callMs, reads } = await betweenWalks(async () => {
      const recorded = recordFileReads(MACHINE);
      try {
        const sent = performance.now();
        const fresh = await status('bitcoin', true);
        return { fresh, callMs: performance.now() - sent, reads: [...recorded.paths] };
      } finally {
        recorded.stop();
      }
    });
    expect(reads).toContain(`${cgroup}/cgroup.procs`);
    expect(reads).toContain(`/proc/${fresh.mainPid}/status`);
    expect(fresh.usageSource).toBe(UsageSource.USAGE_SOURCE_PROCFS);
    expect(fresh.tasks).toBeGreaterThanOrEqual(1);
    // Read within the call: no older than the call itself.
    expect(ageMs(fresh)).toBeLessThanOrEqual(callMs);
    // The next plain read serves that measurement (or a walk's newer one), not an older one.
    const { age: next, elapsedMs } = await betweenWalks(async () => {
      const sent = performance.now();
      const s = await status('bitcoin');
      return { age: ageMs(s)!, elapsedMs: performance.now() - sent + callMs };
    });
    expect(next).toBeLessThanOrEqual(elapsedMs + 1_000);
  });

  it('has no figures for a stopped stream, not even fresh ones, and reads nothing for it', async () => {
    await rpc(h.client, h.client.start, contoso('ethereum'));
    expect((await status('ethereum')).usageSource).toBe(UsageSource.USAGE_SOURCE_PROCFS);
    await rpc(h.client, h.client.stop, contoso('ethereum'));
    const server = currentSession(h)!.connection.uniqueName!;
    const monitor = await monitorBus(h.sandbox, [`type='method_call',sender='${server}',path='/org/freedesktop/systemd1/unit/lit_2dstream_2dcontoso_40ethereum_2eservice'`]);
    const recorded = recordFileReads(MACHINE);
    let answers: StreamStatus[];
    try {
      answers = [await status('ethereum'), await status('ethereum', true)];
      await monitor.caughtUp();
    } finally {
      recorded.stop();
      monitor.stop();
    }
    expect(recorded.paths.filter((path) => !path.startsWith('/proc/self/'))).toEqual([]);
    expect(monitor.messages.filter((m) => m.sender === server).map((m) => m.member)).toEqual([]);
    for (const s of answers) {
      expect(s.activeState).toBe(ActiveState.ACTIVE_STATE_INACTIVE);
      expect(s.usageSource).toBe(UsageSource.USAGE_SOURCE_UNSPECIFIED);
      expect(s.tasks).toBeUndefined();
      expect(s.memoryBytes).toBeUndefined();
      expect(s.usageAge).toBeUndefined();
    }
  });
});

describe('the usage sampler', () => {
  it('reads the running declared streams and never a unit that is not one', async () => {
    await rpc(h.client, h.client.start, contoso('bitcoin'));
    // Running, and followed by the server's view like every unit its pattern matches.
    await h.sandbox.withManager((m) => m.StartUnit(NOT_A_STREAM, 'replace'));
    await waitFor(async () => (await h.unitState(NOT_A_STREAM)).ActiveState === 'active', 10_000, `${NOT_A_STREAM} active`);
    const other = await h.unitState(NOT_A_STREAM);
    const otherGroup = trackingCgroupDir(other.ControlGroup!);
    const bitcoinGroup = trackingCgroupDir((await h.unitState(unitOf('bitcoin'))).ControlGroup!);
    const recorded = recordFileReads(MACHINE);
    try {
      await walks(3);
    } finally {
      recorded.stop();
    }
    await h.sandbox.withManager((m) => m.StopUnit(NOT_A_STREAM, 'replace'));
    expect(recorded.paths).toContain(`${bitcoinGroup}/cgroup.procs`);
    expect(recorded.paths.filter((path) => path.startsWith(otherGroup) || path.startsWith(`/proc/${other.MainPID}/`))).toEqual([]);
  });

  it('stops with the server: no walk is scheduled after shutdown', async () => {
    expect(h.server.view.sampling.scheduled || h.server.view.sampling.walks > 0).toBe(true);
    await h.server.shutdown(2_000);
    expect(h.server.view.sampling.scheduled).toBe(false);
  });
});
