import { type ChildProcess, fork } from 'node:child_process';
import { credentials, status as GrpcStatus } from '@grpc/grpc-js';
import { fileURLToPath } from 'node:url';
import { ActiveState, StreamServiceClient } from '../gen/lit/stream/v1/stream.js';
import type { BusConnection, Signal } from '../src/systemd/busConnection.js';
import type { SystemdManager } from '../src/systemd/manager.js';
import { unitObjectPath } from '../src/systemd/unitObjectPath.js';
import { acceptedConnections, isServiceError } from './clients.js';
import { TEAM, type JobSignals, unitOf } from './fixture.js';
import { type LatencyStats, summarize, withTimeout } from './measure.js';
import { type FromWatchers, hrtimeMs, type ToWatchers } from './watcherProtocol.js';

const WATCHER_PROCESS = fileURLToPath(new URL('./watcherProcess.ts', import.meta.url));

export interface WatchOptions {
  readonly address: string;
  readonly port: number;
  /** The declared streams, s0000…: each watcher's snapshot has a message for each. */
  readonly streams: readonly string[];
  /** A stopped stream nothing else touches; the rounds start and stop it. */
  readonly triggerStream: string;
  readonly manager: SystemdManager;
  readonly jobs: JobSignals;
  /** The bench's own bus connection (the one `manager` uses): it sees systemd's signals as the server does. */
  readonly bus: BusConnection;
  readonly watchers: number;
  readonly channels: number;
  /** Processes the watchers are spread over (each its own Node, outside the bench process). */
  readonly processes: number;
  /** Ask for the initial statuses in batches (`batch_initial`) rather than one message each. */
  readonly batchInitial: boolean;
  readonly rounds: number;
  /** For all watchers to have their snapshots. */
  readonly readyTimeoutMs: number;
  readonly roundTimeoutMs?: number;
}

export type WatchResult<T> =
  | { readonly available: false; readonly reason: string }
  | {
      readonly available: true;
      readonly watchers: number;
      readonly channels: number;
      /** Processes the watchers ran in (not the bench's). */
      readonly processes: number;
      /** Whether the watchers asked for batched initial statuses. */
      readonly batchInitial: boolean;
      /** Messages the watchers received until every one had its snapshot (all watchers together). */
      readonly snapshotMessages: number;
      /** TCP connections the server had accepted with every watcher open (watch channels + others). */
      readonly serverConnections: number;
      /** From opening the first watcher until every one had a message for every stream. */
      readonly readyMs: number;
      /**
       * Streams whose first message to a watcher was CHANGED rather than INITIAL (summed over
       * watchers): the server coalesced the INITIAL into a change that came while it was queued.
       */
      readonly initialReplacedByChanged: number;
      readonly rounds: number;
      /**
       * Per round, from the D-Bus call that changes the stream until *every* watcher received a
       * CHANGED message for it reflecting the change (its ActiveState no longer the one before).
       */
      readonly allChanged: LatencyStats;
      /**
       * From the first PropertiesChanged of the stream's unit seen by the bench's own D-Bus
       * connection (when systemd announced the change, as the server heard it) until every watcher
       * had a CHANGED: the server's and gRPC's share of `allChanged`.
       */
      readonly allChangedAfterSignal: LatencyStats;
      /** The same as `allChanged`, until the first watcher did. */
      readonly firstChanged: LatencyStats;
      /** Until every watcher received the final state (active after a start, inactive after a stop). */
      readonly allSettled: LatencyStats;
      /** From the bench seeing the job's JobRemoved until every watcher had the final state (can be < 0). */
      readonly allSettledAfterJobRemoved: LatencyStats;
      /** What `whileConnected` returned, e.g. the server's memory with every watcher connected. */
      readonly whileConnected: T;
    };

/** One watcher process, and its messages as they come. */
class WatcherProcess {
  private readonly waiting: Array<{ match: (m: FromWatchers) => boolean; resolve: (m: FromWatchers) => void }> = [];
  readonly exited: Promise<void>;
  failure: Error | undefined;
  private onFailure: ((error: Error) => void) | undefined;

  constructor(readonly child: ChildProcess) {
    child.on('message', (message: FromWatchers) => {
      if (message.type === 'failed') return this.fail(new Error(message.reason));
      const index = this.waiting.findIndex((w) => w.match(message));
      if (index >= 0) this.waiting.splice(index, 1)[0]!.resolve(message);
    });
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.once('exit', (code, signal) => this.fail(new Error(`a watcher process exited (${signal ?? `code ${code}`})`)));
  }

  /** Rejects when the process fails or exits before `close()`. */
  failed(): Promise<never> {
    return new Promise((_, reject) => {
      if (this.failure) reject(this.failure);
      else this.onFailure = reject;
    });
  }

  next<K extends FromWatchers['type']>(type: K, r?: number): Promise<Extract<FromWatchers, { type: K }>> {
    return new Promise((resolve) =>
      this.waiting.push({
        match: (m) => m.type === type && (r === undefined || (m as { r?: number }).r === r),
        resolve: resolve as (m: FromWatchers) => void,
      }),
    );
  }

  send(message: ToWatchers): void {
    if (this.child.connected) this.child.send(message);
  }

  /** Ends the process: asks it to close its calls, kills it if it has not gone within 5 s. */
  async close(): Promise<void> {
    this.onFailure = undefined;
    this.failure ??= new Error('closed');
    this.send({ type: 'close' });
    const gone = await Promise.race([this.exited.then(() => true), delay(5_000).then(() => false)]);
    if (!gone) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }

  private fail(error: Error): void {
    if (this.failure) return;
    this.failure = error;
    this.onFailure?.(error);
  }
}

/**
 * Watch fan-out: W watchers of the whole team over C channels (separate HTTP/2 connections), run in
 * P processes of their own (bench/watcherProcess.ts), which read of each message only what they
 * need: so the figures are the server's, not the bench decoding a million statuses on the cores the
 * server needs. Once each watcher has its snapshot, the bench changes one stream directly over
 * D-Bus (not through the server) and times how long until all watchers heard of it, on the
 * machine's monotonic clock all processes share. Answers `available: false` when the server does
 * not implement WatchStatus (UNIMPLEMENTED).
 */
export async function measureWatch<T>(options: WatchOptions, whileConnected: () => Promise<T>): Promise<WatchResult<T>> {
  const { address, streams, watchers: count, rounds } = options;
  const unavailable = await probe(address);
  if (unavailable) return { available: false, reason: unavailable };

  const processCount = Math.max(1, Math.min(options.processes, count));
  const processes: WatcherProcess[] = [];
  let stopListening = () => {};
  try {
    for (let p = 0; p < processCount; p++) {
      processes.push(new WatcherProcess(fork(WATCHER_PROCESS, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })));
    }
    const failed = Promise.race(processes.map((p) => p.failed()));
    failed.catch(() => undefined);
    const within = <R>(promise: Promise<R>, ms: number, what: string) => withTimeout(Promise.race([promise, failed]), ms, what);
    await within(Promise.all(processes.map((p) => p.next('started'))), 30_000, 'watcher processes starting');

    // Watchers and connections shared out as evenly as they go.
    const share = (total: number, p: number) => Math.floor(((p + 1) * total) / processCount) - Math.floor((p * total) / processCount);
    const ready = processes.map((p) => p.next('ready'));
    const opened = hrtimeMs();
    let first = 0;
    processes.forEach((process, p) => {
      const watchers = share(count, p);
      process.send({
        type: 'open',
        address,
        team: TEAM,
        first,
        count: watchers,
        channels: Math.max(1, share(options.channels, p)),
        size: streams.length,
        batchInitial: options.batchInitial,
      });
      first += watchers;
    });
    const readies = await within(Promise.all(ready), options.readyTimeoutMs, `${count} watchers getting a snapshot of ${streams.length} streams each`);
    const readyMs = Math.max(...readies.map((r) => r.at)) - opened;
    const serverConnections = await acceptedConnections(options.port);

    const unit = unitOf(options.triggerStream);
    const path = unitObjectPath(unit);
    await options.bus.addMatch(
      `type='signal',sender='org.freedesktop.systemd1',interface='org.freedesktop.DBus.Properties',member='PropertiesChanged',path='${path}'`,
    );
    let signalAt = Number.NaN;
    const onSignal = (signal: Signal) => {
      if (Number.isNaN(signalAt) && signal.path === path && signal.member === 'PropertiesChanged') signalAt = hrtimeMs();
    };
    options.bus.on('signal', onSignal);
    stopListening = () => options.bus.removeListener('signal', onSignal);
    // JobSignals stamps with performance.now(); both clocks are monotonic, so they differ by a constant.
    const toHrtime = hrtimeMs() - performance.now();

    const allChanged: number[] = [];
    const afterSignal: number[] = [];
    const firstChanged: number[] = [];
    const allSettled: number[] = [];
    const afterJob: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const starting = r % 2 === 0; // the stream starts out stopped
      const round = {
        type: 'round' as const,
        r,
        name: options.triggerStream,
        from: starting ? ActiveState.ACTIVE_STATE_INACTIVE : ActiveState.ACTIVE_STATE_ACTIVE,
        settledStates: starting ? [ActiveState.ACTIVE_STATE_ACTIVE] : [ActiveState.ACTIVE_STATE_INACTIVE, ActiveState.ACTIVE_STATE_FAILED],
      };
      const armed = processes.map((p) => p.next('armed', r));
      for (const process of processes) process.send(round);
      await within(Promise.all(armed), 10_000, `round ${r + 1}: watcher processes ready to time it`);
      const done = processes.map((p) => p.next('round-done', r));
      signalAt = Number.NaN;
      const t0 = hrtimeMs();
      const job = options.jobs.run(unit, () => (starting ? options.manager.StartUnit(unit, 'replace') : options.manager.StopUnit(unit, 'replace')));
      const [finished, results] = await within(
        Promise.all([job, Promise.all(done)]),
        options.roundTimeoutMs ?? 10_000,
        `round ${r + 1}: all ${count} watchers hearing that ${options.triggerStream} ${starting ? 'started' : 'stopped'}`,
      );
      const firstMax = Math.max(...results.map((x) => x.firstMax));
      const settledMax = Math.max(...results.map((x) => x.settledMax));
      firstChanged.push(Math.min(...results.map((x) => x.firstMin)) - t0);
      allChanged.push(firstMax - t0);
      afterSignal.push(firstMax - signalAt);
      allSettled.push(settledMax - t0);
      afterJob.push(settledMax - (finished.at + toHrtime));
    }

    const measured = await whileConnected();
    return {
      available: true,
      watchers: count,
      channels: options.channels,
      processes: processCount,
      batchInitial: options.batchInitial,
      snapshotMessages: readies.reduce((sum, r) => sum + r.messages, 0),
      serverConnections,
      readyMs,
      initialReplacedByChanged: readies.reduce((sum, r) => sum + r.replaced, 0),
      rounds,
      allChanged: summarize(allChanged),
      allChangedAfterSignal: summarize(afterSignal),
      firstChanged: summarize(firstChanged),
      allSettled: summarize(allSettled),
      allSettledAfterJobRemoved: summarize(afterJob),
      whileConnected: measured,
    };
  } finally {
    stopListening();
    // Waited for (reaped), so their CPU time is the bench's (cutime) in the phase's accounting.
    await Promise.all(processes.map((p) => p.close()));
  }
}

/**
 * One watcher first: the error UNIMPLEMENTED means the server has no WatchStatus (answers why),
 * a first message means it has (answers undefined).
 */
async function probe(address: string): Promise<string | undefined> {
  const client = new StreamServiceClient(address, credentials.createInsecure());
  const call = client.watchStatus({ team: TEAM, name: '' });
  try {
    return await withTimeout(
      new Promise<string | undefined>((resolve, reject) => {
        call.once('data', () => resolve(undefined));
        call.once('error', (error) => {
          if (isServiceError(error) && error.code === GrpcStatus.UNIMPLEMENTED) resolve(`WatchStatus answered UNIMPLEMENTED: ${error.details}`);
          else reject(new Error(`WatchStatus probe: ${error.message}`));
        });
        call.once('end', () => reject(new Error('WatchStatus probe: the server ended the stream without a message')));
      }),
      30_000,
      'WatchStatus probe: first message',
    );
  } finally {
    call.removeAllListeners();
    call.on('error', () => undefined);
    call.cancel();
    client.close();
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
