import type { EventEmitter } from 'node:events';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';

let processRegistry: Registry | undefined;

/**
 * Gauges prom-client names with `_total`, which Prometheus reserves for counters (`promtool check
 * metrics` rejects them); the same figures by type remain as `nodejs_active_handles{type}` etc.
 */
const MISNAMED_DEFAULTS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/**
 * Node's default process metrics (prom-client's collectDefaultMetrics: `process_cpu_seconds_total`,
 * `process_resident_memory_bytes`, `process_open_fds`, `nodejs_heap_size_used_bytes`,
 * `nodejs_eventloop_lag_seconds`, ...), unprefixed so the usual Node.js dashboards work. One
 * registry per process, however many servers it runs (tests run several): the figures are the
 * process's, and the collectors (event-loop monitor, GC observer) should exist once.
 */
export function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
    for (const name of MISNAMED_DEFAULTS) processRegistry.removeSingleMetric(name);
  }
  return processRegistry;
}

/** The parts of SystemdLink this reads: its `up`/`down` events and whether it is up now. */
export interface LinkEvents extends Pick<EventEmitter, 'on'> {
  readonly isUp: boolean;
}

/**
 * Metrics of lit-streamd itself (one registry per server): its connection to systemd and its open
 * watches. The gRPC call metrics join it from the call pipeline.
 */
export class ServerMetrics {
  readonly registry = new Registry();
  private readonly reconnects: Counter;

  constructor(sources: {
    readonly link: LinkEvents;
    readonly openWatches: () => number;
    /** `journalctl --follow` processes running (JournalFollowers: one per followed unit). */
    readonly logFollowers: () => number;
  }) {
    const { link } = sources;
    new Gauge({
      name: 'lit_stream_systemd_connected',
      help: "1 while lit-streamd is connected to systemd's D-Bus (health SERVING), else 0.",
      registers: [this.registry],
      collect() {
        this.set(link.isUp ? 1 : 0);
      },
    });
    this.reconnects = new Counter({
      name: 'lit_stream_systemd_reconnects_total',
      help: 'Times the connection to systemd was made again after it had been lost.',
      registers: [this.registry],
    });
    new Gauge({
      name: 'lit_stream_open_watches',
      help: 'WatchStatus calls currently open.',
      registers: [this.registry],
      collect() {
        this.set(sources.openWatches());
      },
    });
    new Gauge({
      name: 'lit_stream_log_followers',
      help: 'journalctl --follow processes running: one per stream whose logs are followed, shared by its readers.',
      registers: [this.registry],
      collect() {
        this.set(sources.logFollowers());
      },
    });
    // A reconnect is an `up` that follows a `down`; the first `up` is the initial connection.
    let lost = false;
    link.on('down', () => (lost = true));
    link.on('up', () => {
      if (lost) this.reconnects.inc();
      lost = false;
    });
  }
}
