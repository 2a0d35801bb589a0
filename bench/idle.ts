import { performance } from 'node:perf_hooks';
import type { CpuMeter, CpuUsage } from './cpu.js';

/** What the server's /metrics says of its background work and memory. */
export interface ServerGauges {
  /** lit_stream_usage_walks_total, lit_stream_usage_walk_cpu_seconds_total (as ms). */
  readonly walks: number;
  readonly walkCpuMs: number;
  /** nodejs_heap_size_used_bytes: V8's heap in use, garbage not yet collected included. */
  readonly heapUsedBytes: number;
}

export interface IdleResult {
  /** How long the server was watched doing nothing but its background work. */
  readonly windowMs: number;
  /** Walks of the usage sampler in the window, and the server's CPU while they ran. */
  readonly walks: number;
  readonly walkCpuMs: number;
  /** CPU the server took in the window: the sampler's walks, liveness pings, GC. */
  readonly cpu: CpuUsage;
  /** How long the server took to be idle after it started serving: its warm-up reads and first walks. */
  readonly settleMs: number;
}

/** Reads the server's gauges from its Prometheus text. */
export async function scrapeGauges(metricsAddress: string): Promise<ServerGauges> {
  const text = await (await fetch(`http://${metricsAddress}/metrics`, { signal: AbortSignal.timeout(30_000) })).text();
  const value = (name: string) => {
    const match = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'm').exec(text);
    if (!match?.[1]) throw new Error(`no ${name} in the server's /metrics`);
    return Number(match[1]);
  };
  return {
    walks: value('lit_stream_usage_walks_total'),
    walkCpuMs: value('lit_stream_usage_walk_cpu_seconds_total') * 1000,
    heapUsedBytes: value('nodejs_heap_size_used_bytes'),
  };
}

/**
 * Waits until the server has settled after it started: two complete walks of the usage sampler, by
 * which time its warm-up reads (alongside the first) are over but for the largest sizes. Answers how
 * long that took.
 */
export async function awaitSettled(metricsAddress: string): Promise<number> {
  const started = performance.now();
  const first = await scrapeGauges(metricsAddress);
  for (;;) {
    const now = await scrapeGauges(metricsAddress);
    if (now.walks >= first.walks + 2) return performance.now() - started;
    if (performance.now() - started > 120_000) throw new Error(`the usage sampler did not complete two walks in 120 s (${now.walks} walks)`);
    // A scrape costs the server a walk over every stream of its own: not too often.
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/**
 * The server at rest with N streams declared and half of them running: the CPU it takes over
 * `windowMs` with no call made is what its background work costs — the sampler's walks above all.
 */
export async function measureIdle(metricsAddress: string, meter: CpuMeter, windowMs: number, settleMs: number): Promise<IdleResult> {
  // The scrapes stay outside the window the CPU is read over.
  const before = await scrapeGauges(metricsAddress);
  let cpu!: CpuUsage;
  await meter.measure(
    () => new Promise((resolve) => setTimeout(resolve, windowMs)),
    (usage) => (cpu = usage),
  );
  const after = await scrapeGauges(metricsAddress);
  return { windowMs: cpu.wallMs, walks: after.walks - before.walks, walkCpuMs: after.walkCpuMs - before.walkCpuMs, cpu, settleMs };
}
