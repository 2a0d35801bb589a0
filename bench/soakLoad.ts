import { type ChildProcess, spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { type ClientReadableStream, credentials, status as GrpcStatus } from '@grpc/grpc-js';
import type { EmbeddedSystemd } from '../src/dev/embeddedSystemd.js';
import {
  type ActiveState,
  type GetStatusResponse,
  type ListStreamsResponse,
  type StartResponse,
  StreamServiceClient,
  type WatchStatusResponse,
} from '../gen/lit/stream/v1/stream.js';
import { type Clients, isServiceError, openChannel, openClients, unary } from './clients.js';
import { TEAM } from './fixture.js';
import { type LatencyStats, summarize, withTimeout } from './measure.js';

/** Every unary call of the soak has this deadline: an answer or a code within it, else it hung. */
export const SOAK_DEADLINE_MS = 15_000;

export interface SoakLoadOptions {
  readonly address: string;
  readonly metricsAddress: string;
  readonly sandbox: EmbeddedSystemd;
  readonly streams: readonly string[];
  /** Streams that Start/Stop/Restart may touch (the rest keep their state). */
  readonly churn: readonly string[];
  readonly readsPerSecond: number;
  readonly actionEveryMs: number;
  readonly abandonEveryMs: number;
  readonly persistentWatches: number;
  readonly scrapeEveryMs: number;
  readonly reloadEveryMs: number;
  readonly busRestartEveryMs: number;
  readonly clientKillEveryMs: number;
  /** Command that runs bench/soakClient.ts (node + loader). */
  readonly clientCommand: readonly string[];
  readonly cwd: string;
  readonly log: (message: string) => void;
}

/** Outcomes of one kind of call: gRPC code names (or HTTP status, or `error: …`) → count. */
export interface CallTally {
  readonly codes: Record<string, number>;
  /** The first few messages of each code other than OK and UNAVAILABLE: what to look into. */
  readonly examples: Record<string, string[]>;
  readonly latency: LatencyStats;
}

/** Messages kept per call kind and code: enough to tell what went wrong, bounded over any soak. */
const EXAMPLES_PER_CODE = 3;
/** Codes the soak expects (UNAVAILABLE: the bus is restarted every minute); others keep examples. */
const EXPECTED_CODES = new Set(['OK', 'UNAVAILABLE']);

export interface SoakEvents {
  reloads: number;
  reloadFailures: number;
  busRestarts: number;
  clientsKilled: number;
  watchesAbandoned: number;
  /** Persistent watches that ended (any code) and were reopened. */
  persistentWatchesEnded: Record<string, number>;
}

/** Latest state each persistent watcher holds per stream. */
export type WatcherView = Map<string, { activeState: ActiveState; subState: string }>;

/**
 * The soak's mixed load on lit-streamd: paced reads (GetStatus, ListStreams), actions on a few
 * streams, team watches opened and cancelled mid-snapshot, long-lived watches, /metrics scrapes, a
 * daemon-reload every few seconds, a bus restart (the sandbox's dbus-daemon killed, socket
 * activation brings it back) every minute, and client processes killed outright mid-call.
 *
 * Every unary call carries SOAK_DEADLINE_MS and is tracked until it settles: a call still open
 * past its deadline plus a margin is a hang. `pause()` stops new work and waits for in-flight
 * calls (the persistent watches stay open), so footprints are read at rest.
 */
export class SoakLoad {
  private readonly clients: Clients;
  private readonly watchChannel;
  private readonly watchClient: StreamServiceClient;
  private readonly inFlight = new Map<number, { method: string; startedAt: number }>();
  private nextCall = 0;
  private readonly outcomes = new Map<string, { codes: Record<string, number>; examples: Record<string, string[]>; latencies: number[] }>();
  private readonly timers: NodeJS.Timeout[] = [];
  private paused = true;
  /** performance.now() of the last bus restart (-Infinity: none yet). */
  lastBusRestartAt = -Infinity;
  private stopped = false;
  private readonly persistent: Array<{ call?: ClientReadableStream<WatchStatusResponse>; view: WatcherView }> = [];
  private readonly abandoned = new Set<ClientReadableStream<WatchStatusResponse>>();
  private readonly children = new Set<ChildProcess>();
  readonly events: SoakEvents = { reloads: 0, reloadFailures: 0, busRestarts: 0, clientsKilled: 0, watchesAbandoned: 0, persistentWatchesEnded: {} };

  constructor(private readonly options: SoakLoadOptions) {
    this.clients = openClients(options.address, 'soak-unary');
    this.watchChannel = openChannel(options.address, 'soak-watch');
    this.watchClient = new StreamServiceClient(options.address, credentials.createInsecure(), { channelOverride: this.watchChannel });
  }

  /** Opens the persistent watches and starts every loop (unpaused). */
  start(): void {
    const o = this.options;
    for (let i = 0; i < o.persistentWatches; i++) {
      this.persistent.push({ view: new Map() });
      this.openPersistent(i);
    }
    this.every(1000 / o.readsPerSecond, () => this.read());
    this.every(o.actionEveryMs, () => this.act());
    this.every(o.abandonEveryMs, () => this.abandonWatch());
    this.every(o.scrapeEveryMs, () => this.scrape());
    this.every(o.reloadEveryMs, () => this.reload());
    this.every(o.busRestartEveryMs, () => this.restartBus());
    this.every(o.clientKillEveryMs, () => this.killAClient());
    this.paused = false;
  }

  /** Stops new work and waits (bounded) for every unary call in flight to settle. */
  async pause(): Promise<void> {
    this.paused = true;
    for (const call of this.abandoned) call.cancel();
    for (const child of this.children) child.kill('SIGKILL');
    const deadline = performance.now() + SOAK_DEADLINE_MS + 5_000;
    while ((this.inFlight.size > 0 || this.children.size > 0) && performance.now() < deadline) await delay(50);
  }

  resume(): void {
    this.paused = false;
  }

  /** Calls open longer than their deadline plus 5 s: they hung. */
  hung(now = performance.now()): Array<{ method: string; openMs: number }> {
    return [...this.inFlight.values()]
      .filter((call) => now - call.startedAt > SOAK_DEADLINE_MS + 5_000)
      .map((call) => ({ method: call.method, openMs: now - call.startedAt }));
  }

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  tallies(): Record<string, CallTally> {
    return Object.fromEntries([...this.outcomes].map(([method, { codes, examples, latencies }]) => [method, { codes, examples, latency: summarize(latencies) }]));
  }

  /** What each persistent watcher believes each stream's state is now. */
  watcherViews(): WatcherView[] {
    return this.persistent.map((watcher) => watcher.view);
  }

  async stop(): Promise<void> {
    await this.pause();
    this.stopped = true;
    for (const timer of this.timers) clearInterval(timer);
    for (const watcher of this.persistent) watcher.call?.cancel();
    this.clients.close();
    this.watchClient.close();
    this.watchChannel.close();
  }

  private every(ms: number, work: () => unknown): void {
    this.timers.push(
      setInterval(() => {
        if (!this.paused && !this.stopped) void work();
      }, Math.max(1, ms)),
    );
  }

  private record(method: string, code: string, latencyMs: number, message?: string): void {
    let outcome = this.outcomes.get(method);
    if (!outcome) this.outcomes.set(method, (outcome = { codes: {}, examples: {}, latencies: [] }));
    outcome.codes[code] = (outcome.codes[code] ?? 0) + 1;
    outcome.latencies.push(latencyMs);
    if (message !== undefined && !EXPECTED_CODES.has(code)) {
      const examples = (outcome.examples[code] ??= []);
      if (examples.length < EXAMPLES_PER_CODE) examples.push(message.slice(0, 300));
    }
  }

  private async tracked<T>(method: string, call: () => Promise<T>): Promise<T | undefined> {
    const id = this.nextCall++;
    const startedAt = performance.now();
    this.inFlight.set(id, { method, startedAt });
    try {
      const result = await call();
      this.record(method, 'OK', performance.now() - startedAt);
      return result;
    } catch (error) {
      const code = isServiceError(error) ? (GrpcStatus[error.code] ?? String(error.code)) : `error: ${(error as Error).message.slice(0, 60)}`;
      this.record(method, code, performance.now() - startedAt, isServiceError(error) ? error.details : (error as Error).message);
      return undefined;
    } finally {
      this.inFlight.delete(id);
    }
  }

  private pick<T>(items: readonly T[]): T {
    return items[Math.floor(Math.random() * items.length)] as T;
  }

  private read(): Promise<unknown> {
    const { streams } = this.clients;
    if (Math.random() < 0.1) {
      return this.tracked('ListStreams', () =>
        unary<ListStreamsResponse>((md, o, cb) => streams.listStreams({ team: TEAM, pageSize: 1000, pageToken: '' }, md, o, cb), SOAK_DEADLINE_MS),
      );
    }
    const name = this.pick(this.options.streams);
    return this.tracked('GetStatus', () => unary<GetStatusResponse>((md, o, cb) => streams.getStatus({ team: TEAM, name }, md, o, cb), SOAK_DEADLINE_MS));
  }

  private act(): Promise<unknown> {
    const { streams } = this.clients;
    const name = this.pick(this.options.churn);
    const action = this.pick(['start', 'stop', 'restart'] as const);
    const method = { start: 'Start', stop: 'Stop', restart: 'Restart' }[action];
    return this.tracked(method, () =>
      // Stop's response has no `logs`, so the three methods' types no longer unite.
      unary<StartResponse>((md, o, cb) => (streams[action] as typeof streams.start)({ team: TEAM, name }, md, o, cb), SOAK_DEADLINE_MS),
    );
  }

  /** A team watch (or one stream's) cancelled after a few messages or a moment: mid-snapshot, often. */
  private abandonWatch(): void {
    const team = Math.random() < 0.8;
    const call = this.watchClient.watchStatus({ team: TEAM, name: team ? '' : this.pick(this.options.streams) });
    this.abandoned.add(call);
    const quota = Math.floor(Math.random() * (team ? this.options.streams.length + 3 : 3));
    let received = 0;
    const abandon = () => {
      if (!this.abandoned.delete(call)) return;
      clearTimeout(timer);
      call.cancel();
      this.events.watchesAbandoned++;
    };
    const timer = setTimeout(abandon, Math.random() * 2_000);
    call.on('data', () => {
      if (++received >= quota) abandon();
    });
    call.on('error', (error) => {
      clearTimeout(timer);
      this.abandoned.delete(call);
      if (isServiceError(error) && error.code !== GrpcStatus.CANCELLED) this.record('WatchStatus (abandoned)', GrpcStatus[error.code] ?? String(error.code), 0, error.details);
    });
    call.on('end', () => {
      clearTimeout(timer);
      this.abandoned.delete(call);
    });
  }

  private openPersistent(index: number): void {
    const watcher = this.persistent[index]!;
    const call = this.watchClient.watchStatus({ team: TEAM, name: '' });
    watcher.call = call;
    call.on('data', (message: WatchStatusResponse) => {
      const status = message.status;
      if (status) watcher.view.set(status.name, { activeState: status.activeState, subState: status.subState });
    });
    const ended = (code: string) => {
      if (this.stopped) return;
      this.events.persistentWatchesEnded[code] = (this.events.persistentWatchesEnded[code] ?? 0) + 1;
      this.options.log(`persistent watch ${index} ended (${code}); reopening`);
      watcher.view.clear();
      setTimeout(() => this.openPersistent(index), 200);
    };
    call.on('error', (error) => ended(isServiceError(error) ? (GrpcStatus[error.code] ?? String(error.code)) : error.message));
    call.on('end', () => ended('ended by the server'));
  }

  private scrape(): Promise<unknown> {
    return this.tracked('GET /metrics', async () => {
      const response = await fetch(`http://${this.options.metricsAddress}/metrics`, { signal: AbortSignal.timeout(SOAK_DEADLINE_MS) });
      await response.text();
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
    });
  }

  private async reload(): Promise<void> {
    try {
      await withTimeout(this.options.sandbox.withManager((manager) => manager.Reload()), SOAK_DEADLINE_MS, 'daemon-reload');
      this.events.reloads++;
    } catch {
      this.events.reloadFailures++; // during a bus restart: the reload itself could not be asked
    }
  }

  /** SIGTERM to the sandbox's dbus-daemon: every connection drops; dbus.socket starts a new one. */
  private async restartBus(): Promise<void> {
    try {
      const [daemon] = await withTimeout(
        this.options.sandbox.withManager((manager) => manager.GetUnitProcesses('dbus.service')),
        SOAK_DEADLINE_MS,
        'the dbus-daemon pid',
      );
      if (!daemon) return;
      process.kill(daemon.pid, 'SIGTERM');
      this.lastBusRestartAt = performance.now();
      this.events.busRestarts++;
      this.options.log(`bus restart: sent SIGTERM to dbus-daemon ${daemon.pid}`);
    } catch (error) {
      this.options.log(`bus restart failed: ${(error as Error).message}`);
    }
  }

  /** A client process that opens watches and calls GetStatus, SIGKILLed a few seconds in. */
  private killAClient(): void {
    const [command, ...args] = this.options.clientCommand;
    const child = spawn(command!, [...args, this.options.address, TEAM, ...this.options.streams.slice(0, 8)], {
      cwd: this.options.cwd,
      stdio: 'ignore',
    });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    setTimeout(() => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        this.events.clientsKilled++;
      }
    }, 2_000 + Math.random() * 3_000);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

