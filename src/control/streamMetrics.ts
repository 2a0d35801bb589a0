import { Counter, Gauge, Registry } from 'prom-client';
import { mapLimit } from '../core/mapLimit.js';
import { ACTIVE_STATES } from '../core/stateWords.js';
import { type KnownStream, type StreamView, toStatus } from './streamView.js';

/** systemd's ActiveState words the API knows, each one series of `lit_stream_state`. */
export const STREAM_STATES: readonly string[] = ACTIVE_STATES;

/** Usage reads in flight during one scrape (only streams the sampler has not reached read anything). */
const USAGE_CONCURRENCY = 8;

/**
 * The declared streams as Prometheus series, built afresh for each scrape from the StreamView (so a
 * stream that is no longer declared has no series left behind), for the teams `readable` admits.
 * Labels are `team` and `stream`: only declared streams, so the series are bounded by what the
 * operator declared, never by what callers send. Values the view does not know yet (a unit not read
 * whole, a timestamp systemd reports as 0) have no series rather than a made-up one.
 *
 * - `lit_stream_state{state}`: one series per ActiveState, 1 for the current one (as
 *   kube-state-metrics does for pod phases), so `lit_stream_state{state="failed"} == 1` alerts.
 * - `lit_stream_restarts_total`: systemd's NRestarts (automatic restarts under Restart=).
 * - `lit_stream_memory_bytes`, `lit_stream_tasks` `{source}`: as GetStatus serves them, `systemd`
 *   (cgroup accounting) or `procfs` (summed from /proc when accounting is off); running streams only.
 * - `lit_stream_state_age_seconds`: seconds since systemd's StateChangeTimestamp.
 * - `lit_stream_usage_walks_total`, `lit_stream_usage_walk_cpu_seconds_total`: the background
 *   usage sampler's walks and the server's CPU time while they ran (no labels: the sampler's cost,
 *   not a team's); the rate of the second bounds the share of a core the sampler takes.
 */
export async function streamMetrics(view: StreamView, readable: (team: string) => boolean, now = Date.now()): Promise<string> {
  const registry = new Registry();
  const labelNames = ['team', 'stream'] as const;
  const state = new Gauge({
    name: 'lit_stream_state',
    help: "The stream's systemd ActiveState: 1 for the current state, 0 for the others.",
    labelNames: [...labelNames, 'state'],
    registers: [registry],
  });
  const restarts = new Counter({
    name: 'lit_stream_restarts_total',
    help: "Automatic restarts of the stream's unit (systemd's NRestarts).",
    labelNames,
    registers: [registry],
  });
  const memory = new Gauge({
    name: 'lit_stream_memory_bytes',
    help: "Memory of the stream's processes: systemd's MemoryCurrent (source=systemd) or their PSS from /proc (source=procfs).",
    labelNames: [...labelNames, 'source'],
    registers: [registry],
  });
  const tasks = new Gauge({
    name: 'lit_stream_tasks',
    help: "Tasks (threads) of the stream's processes: systemd's TasksCurrent (source=systemd) or counted in /proc (source=procfs).",
    labelNames: [...labelNames, 'source'],
    registers: [registry],
  });
  const age = new Gauge({
    name: 'lit_stream_state_age_seconds',
    help: "Seconds since the stream's unit last changed state (systemd's StateChangeTimestamp).",
    labelNames,
    registers: [registry],
  });

  const { walks, walkCpuMs } = view.sampling;
  new Counter({
    name: 'lit_stream_usage_walks_total',
    help: "Walks of the usage sampler over the running streams (it reads their tasks and memory in the background).",
    registers: [registry],
  }).inc(walks);
  new Counter({
    name: 'lit_stream_usage_walk_cpu_seconds_total',
    help: "The server's CPU time while the usage sampler walked; its rate bounds the share of a core the sampler takes.",
    registers: [registry],
  }).inc(walkCpuMs / 1000);

  const streams = (await view.knownStreams())
    .filter((stream) => readable(stream.ref.team))
    .sort((a, b) => a.unit.localeCompare(b.unit));
  const sampled: Array<KnownStream & { state: NonNullable<KnownStream['state']> }> = [];
  for (const stream of streams) {
    if (!stream.state) continue;
    const labels = { team: stream.ref.team, stream: stream.ref.name };
    const status = toStatus(stream.ref, stream.unit, stream.state, stream);
    for (const word of STREAM_STATES) state.set({ ...labels, state: word }, word === status.activeState ? 1 : 0);
    if (!STREAM_STATES.includes(status.activeState)) state.set({ ...labels, state: status.activeState }, 1);
    if (stream.complete) restarts.inc(labels, status.restartCount);
    const changedAt = stream.state.StateChangeTimestamp;
    if (changedAt) age.set(labels, Math.max(0, (now - changedAt.getTime()) / 1000));
    // The sampler answers at once from memory: "no usage" for a stream that runs nothing, else its
    // last figures; only a stream started since its last walk is read now.
    sampled.push({ ...stream, state: stream.state });
  }

  await mapLimit(sampled, USAGE_CONCURRENCY, async (stream) => {
    // A sample that fails (the unit just went away, the bus dropped) leaves the stream without
    // usage series in this scrape; the state series above still stand.
    const usage = await view.usageOf(stream.unit, stream.state).catch(() => undefined);
    if (!usage || usage.usageSource === 'none') return;
    const labels = { team: stream.ref.team, stream: stream.ref.name, source: usage.usageSource };
    if (usage.memoryBytes !== undefined) memory.set(labels, usage.memoryBytes);
    if (usage.tasks !== undefined) tasks.set(labels, usage.tasks);
  });
  return registry.metrics();
}
