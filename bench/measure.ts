import { performance } from 'node:perf_hooks';

/** Latencies in milliseconds (performance.now(), i.e. the monotonic hrtime clock). */
export interface LatencyStats {
  readonly count: number;
  readonly min: number;
  readonly mean: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

export interface ThroughputStats {
  readonly concurrency: number;
  readonly elapsedMs: number;
  /** Completed calls per second over `elapsedMs`. */
  readonly perSecond: number;
  /** Latency of each call while `concurrency` were in flight. */
  readonly latency: LatencyStats;
}

/** An operation under measurement; `index` counts calls so callers can rotate over targets. */
export type Operation = (index: number) => Promise<unknown>;

/** Nearest-rank percentile of ascending `sorted` (p in 0..100). */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] ?? Number.NaN;
}

/** Statistics of the finite samples (a NaN stands for a sample that could not be taken). */
export function summarize(samples: readonly number[] | Float64Array): LatencyStats {
  const sorted = Float64Array.from(samples).filter(Number.isFinite).sort();
  let sum = 0;
  for (const value of sorted) sum += value;
  return {
    count: sorted.length,
    min: sorted[0] ?? Number.NaN,
    mean: sorted.length ? sum / sorted.length : Number.NaN,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1] ?? Number.NaN,
  };
}

export interface SequentialLimits {
  /** Stop after this many calls… */
  readonly maxCount: number;
  /** …or once this much time has passed, whichever comes first… */
  readonly maxMs: number;
  /** …but make at least this many (default 1). */
  readonly minCount?: number;
}

/** One call at a time: the latency floor. The first error ends the measurement (and is thrown). */
export async function sequential(operation: Operation, limits: SequentialLimits): Promise<LatencyStats> {
  const samples: number[] = [];
  const end = performance.now() + limits.maxMs;
  const minCount = limits.minCount ?? 1;
  for (let index = 0; index < limits.maxCount; index++) {
    if (index >= minCount && performance.now() >= end) break;
    const started = performance.now();
    await operation(index);
    samples.push(performance.now() - started);
  }
  return summarize(samples);
}

/**
 * Several operations compared under the same conditions: sequential calls alternate between them
 * (A, B, A, B, …), so drift in machine load hits each alike; each gets up to `maxCount` samples and
 * `maxMs` of time.
 */
export async function sequentialInterleaved(operations: readonly Operation[], limits: SequentialLimits): Promise<LatencyStats[]> {
  const samples = operations.map((): number[] => []);
  const end = performance.now() + limits.maxMs * operations.length;
  const minCount = limits.minCount ?? 1;
  for (let index = 0; index < limits.maxCount; index++) {
    if (index >= minCount && performance.now() >= end) break;
    for (const [which, operation] of operations.entries()) {
      const started = performance.now();
      await operation(index);
      samples[which]!.push(performance.now() - started);
    }
  }
  return samples.map(summarize);
}

/**
 * Several operations' throughput compared under the same conditions: each runs `durationMs` in all,
 * in two blocks of half that, in the order A B … B A, which cancels a linear drift in machine load.
 */
export async function concurrentInterleaved(operations: readonly Operation[], concurrency: number, durationMs: number): Promise<ThroughputStats[]> {
  const blocks = operations.map((): Block[] => []);
  const order = [...operations.keys(), ...[...operations.keys()].reverse()];
  for (const which of order) blocks[which]!.push(await saturate(operations[which]!, concurrency, durationMs / 2));
  return blocks.map((halves) => throughput(concurrency, halves));
}

interface Block {
  readonly elapsedMs: number;
  readonly samples: readonly number[];
}

/**
 * `concurrency` callers, each starting its next call as soon as the last one answered, for
 * `durationMs`. The first error stops every caller and is thrown.
 */
async function saturate(operation: Operation, concurrency: number, durationMs: number): Promise<Block> {
  const samples: number[] = [];
  let next = 0;
  // Boxed: whatever was thrown, undefined included, stops the callers and is thrown as it was.
  let failure: { error: unknown } | undefined;
  const startedAt = performance.now();
  const end = startedAt + durationMs;
  const caller = async () => {
    while (failure === undefined && performance.now() < end) {
      const started = performance.now();
      try {
        await operation(next++);
      } catch (error) {
        failure ??= { error };
        return;
      }
      samples.push(performance.now() - started);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, caller));
  if (failure !== undefined) throw failure.error;
  return { elapsedMs: performance.now() - startedAt, samples };
}

function throughput(concurrency: number, blocks: readonly Block[]): ThroughputStats {
  const elapsedMs = blocks.reduce((sum, block) => sum + block.elapsedMs, 0);
  const samples = blocks.flatMap((block) => block.samples);
  return { concurrency, elapsedMs, perSecond: (samples.length / elapsedMs) * 1000, latency: summarize(samples) };
}

/** Calls not measured: lets the JIT, the channel and the server's caches settle first. */
export async function warmUp(operation: Operation, count: number, concurrency = 8): Promise<void> {
  let next = 0;
  const caller = async () => {
    while (next < count) await operation(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, caller));
}

/** Rejects with `what` timed out after `ms`, unless `promise` settles first. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: timed out after ${(ms / 1000).toFixed(1)} s`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
