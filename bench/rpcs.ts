import { performance } from 'node:perf_hooks';
import { type HealthCheckResponse, HealthCheckResponse_ServingStatus } from '../gen/grpc/health/v1/health.js';
import {
  ActionStatus,
  ActiveState,
  type GetStatusResponse,
  type ListStreamsResponse,
  type StartResponse,
  type StopResponse,
} from '../gen/lit/stream/v1/stream.js';
import { type Clients, unary } from './clients.js';
import { TEAM, type JobSignals, unitOf } from './fixture.js';
import {
  concurrentInterleaved,
  type LatencyStats,
  type Operation,
  sequential,
  sequentialInterleaved,
  summarize,
  type ThroughputStats,
  warmUp,
} from './measure.js';

export interface LoopOptions {
  readonly durationMs: number;
  readonly concurrency: number;
  readonly seqCount: number;
}

export interface SeqAndLoad {
  readonly sequential: LatencyStats;
  readonly concurrent: ThroughputStats;
}

/** Calls made before measuring, per operation: JIT, channel and server caches settle first. */
export function warmUpCount(options: LoopOptions): number {
  return Math.min(500, Math.max(50, Math.round(options.seqCount / 4)));
}

/**
 * Warm-up, then one call at a time, then `concurrency` in flight. With several operations (Check
 * and GetStatus, whose ratios are targets) they are measured interleaved, under the same load.
 */
export async function seqAndLoad(operations: readonly Operation[], options: LoopOptions): Promise<SeqAndLoad[]> {
  for (const operation of operations) await warmUp(operation, warmUpCount(options));
  const seq = await sequentialInterleaved(operations, { maxCount: options.seqCount, maxMs: options.durationMs, minCount: 20 });
  const load = await concurrentInterleaved(operations, options.concurrency, options.durationMs);
  return operations.map((_, i) => ({ sequential: seq[i]!, concurrent: load[i]! }));
}

/** grpc.health.v1.Health/Check: a unary call that does no work, i.e. the floor of gRPC itself. */
export function checkOperation(clients: Clients): Operation {
  return async () => {
    const response = await unary<HealthCheckResponse>((md, o, cb) => clients.health.check({ service: '' }, md, o, cb));
    if (response.status !== HealthCheckResponse_ServingStatus.SERVING) throw new Error(`Check answered ${response.status}`);
  };
}

/** GetStatus of a running stream, rotating over all running streams. */
export function getStatusOperation(clients: Clients, running: readonly string[]): Operation {
  return async (index) => {
    const name = running[index % running.length] as string;
    const response = await unary<GetStatusResponse>((md, o, cb) => clients.streams.getStatus({ team: TEAM, name }, md, o, cb));
    if (response.status?.name !== name || response.status.activeState !== ActiveState.ACTIVE_STATE_ACTIVE) {
      throw new Error(`GetStatus(${name}) answered ${JSON.stringify(response.status)}, not an active ${name}`);
    }
  };
}

/** ListStreams of the whole team in one page (page_size 1000): sequential only. */
export async function measureList(clients: Clients, size: number, options: LoopOptions): Promise<LatencyStats> {
  const pageSize = 1000;
  const operation = async () => {
    const response = await unary<ListStreamsResponse>((md, o, cb) =>
      clients.streams.listStreams({ team: TEAM, pageSize, pageToken: '' }, md, o, cb),
    );
    const expected = Math.min(size, pageSize);
    if (response.streams.length !== expected) throw new Error(`ListStreams returned ${response.streams.length} streams, not ${expected}`);
  };
  await warmUp(operation, 10, 1);
  return sequential(operation, { maxCount: options.seqCount, maxMs: options.durationMs, minCount: 20 });
}

export interface StartStopResult {
  readonly cycles: number;
  /** Latency of the Start call as the client sees it. */
  readonly start: LatencyStats;
  readonly stop: LatencyStats;
  /** Start response received − JobRemoved seen by the bench's own D-Bus connection (can be < 0). */
  readonly startAfterJobRemoved: LatencyStats;
  readonly stopAfterJobRemoved: LatencyStats;
  /** Start call sent → JobRemoved seen by the bench: systemd's share (plus the server's enqueue). */
  readonly startToJobRemoved: LatencyStats;
}

export interface StartStopOptions {
  readonly cycles: number;
  readonly maxMs: number;
}

/**
 * Start then Stop of stopped streams, one call at a time, rotating over `streams`. For each call
 * the bench expects the unit's JobRemoved on its own bus connection (registered before the call) to
 * see how long after systemd finished the job the answer reached the client.
 */
export async function measureStartStop(
  clients: Clients,
  jobs: JobSignals,
  streams: readonly string[],
  options: StartStopOptions,
): Promise<StartStopResult> {
  const start: number[] = [];
  const stop: number[] = [];
  const startAfter: number[] = [];
  const stopAfter: number[] = [];
  const startToJob: number[] = [];

  const timed = async <Res extends StartResponse | StopResponse>(
    unit: string,
    call: () => Promise<Res>,
  ): Promise<{ sent: number; answered: number; jobAt: number }> => {
    const expectation = jobs.expect(unit, 30_000);
    const sent = performance.now();
    let response: Res;
    try {
      response = await call();
    } catch (error) {
      expectation.cancel();
      throw error;
    }
    const answered = performance.now();
    if (response.status !== ActionStatus.ACTION_STATUS_SUCCESS) {
      expectation.cancel();
      throw new Error(`${unit}: ${response.message} (job ${response.jobResult})`);
    }
    const job = await expectation.promise;
    if (job.result !== 'done') throw new Error(`${unit}: JobRemoved result ${job.result}`);
    return { sent, answered, jobAt: job.at };
  };

  const cycle = async (index: number) => {
    const name = streams[index % streams.length] as string;
    const unit = unitOf(name);
    // settle 0: the job path alone, as this phase has measured it; the settle window (issue 8) would
    // add its own 1 s to every Start.
    const started = await timed(unit, () =>
      unary<StartResponse>((md, o, cb) => clients.streams.start({ team: TEAM, name, settle: { seconds: 0, nanos: 0 } }, md, o, cb)),
    );
    const stopped = await timed(unit, () => unary<StopResponse>((md, o, cb) => clients.streams.stop({ team: TEAM, name }, md, o, cb)));
    return { started, stopped };
  };

  for (let i = 0; i < Math.min(5, streams.length); i++) await cycle(i); // warm-up
  const end = performance.now() + options.maxMs;
  let cycles = 0;
  while (cycles < options.cycles && (cycles < 20 || performance.now() < end)) {
    const { started, stopped } = await cycle(cycles++);
    start.push(started.answered - started.sent);
    startAfter.push(started.answered - started.jobAt);
    startToJob.push(started.jobAt - started.sent);
    stop.push(stopped.answered - stopped.sent);
    stopAfter.push(stopped.answered - stopped.jobAt);
  }
  return {
    cycles,
    start: summarize(start),
    stop: summarize(stop),
    startAfterJobRemoved: summarize(startAfter),
    stopAfterJobRemoved: summarize(stopAfter),
    startToJobRemoved: summarize(startToJob),
  };
}
