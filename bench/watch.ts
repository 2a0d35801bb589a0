import { type Channel, type ClientReadableStream, credentials, status as GrpcStatus } from '@grpc/grpc-js';
import { performance } from 'node:perf_hooks';
import { ActiveState, StreamServiceClient, WatchEventKind, type WatchStatusResponse } from '../gen/lit/stream/v1/stream.js';
import type { BusConnection, Signal } from '../src/systemd/busConnection.js';
import type { SystemdManager } from '../src/systemd/manager.js';
import { unitObjectPath } from '../src/systemd/unitObjectPath.js';
import { acceptedConnections, isServiceError, openChannel } from './clients.js';
import { TEAM, type JobSignals, unitOf } from './fixture.js';
import { type LatencyStats, summarize, withTimeout } from './measure.js';

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
  /** Open watchers this many at a time, each batch waiting for its snapshots; 0 or absent: all at once. */
  readonly batch?: number;
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
      /** How many watchers were opened at once. */
      readonly batch: number;
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

interface Round {
  readonly name: string;
  /** The stream's ActiveState before the change: a CHANGED still saying this is not the change. */
  readonly from: ActiveState;
  readonly settledStates: readonly ActiveState[];
  readonly firstAt: Float64Array;
  readonly settledAt: Float64Array;
  settled: number;
  /** When the bench saw systemd's first PropertiesChanged for the unit in this round. */
  signalAt: number;
  done: () => void;
}

/**
 * Watch fan-out: W watchers of the whole team over C channels (separate HTTP/2 connections); once
 * each has its snapshot, the bench changes one stream directly over D-Bus (not through the server)
 * and times how long until all watchers heard of it. Answers `available: false` when the server
 * does not implement WatchStatus (UNIMPLEMENTED).
 */
export async function measureWatch<T>(options: WatchOptions, whileConnected: () => Promise<T>): Promise<WatchResult<T>> {
  const { address, streams, watchers: count, rounds } = options;
  const size = streams.length;
  const batch = options.batch ? Math.min(count, options.batch) : count;
  const channels: Channel[] = [];
  const clients: StreamServiceClient[] = [];
  for (let i = 0; i < Math.max(1, Math.min(options.channels, count)); i++) {
    const channel = openChannel(address, `watch-${i}`);
    channels.push(channel);
    clients.push(new StreamServiceClient(address, credentials.createInsecure(), { channelOverride: channel }));
  }
  const calls: ClientReadableStream<WatchStatusResponse>[] = [];
  let closing = false;
  let stopListening = () => {};
  try {
    const unavailable = await probe(clients[0] as StreamServiceClient);
    if (unavailable) return { available: false, reason: unavailable };

    // Any watcher failing or ending ends the measurement.
    let fail!: (error: Error) => void;
    const failed = new Promise<never>((_, reject) => (fail = reject));
    failed.catch(() => undefined);

    // A watcher is ready once it has a message (INITIAL, or CHANGED coalesced over it) for every
    // stream; `seen` is one byte per (watcher, stream), streams indexed by their number.
    const index = new Map(streams.map((name, i) => [name, i]));
    const seen = new Uint8Array(count * size);
    const distinct = new Uint32Array(count);
    let initialReplacedByChanged = 0;
    let ready = 0;
    let onReady: (() => void) | undefined;
    let round: Round | undefined;

    let snapshotMessages = 0;
    const see = (watcher: number, name: string, kind: WatchEventKind) => {
      const slot = watcher * size + (index.get(name) ?? -1);
      if (slot >= watcher * size && seen[slot] === 0) {
        seen[slot] = 1;
        if (kind !== WatchEventKind.WATCH_EVENT_KIND_INITIAL) initialReplacedByChanged++;
        if (++distinct[watcher]! === size) {
          ready++;
          onReady?.();
        }
      }
    };
    const onMessage = (watcher: number, message: WatchStatusResponse) => {
      const name = message.status?.name ?? '';
      if (distinct[watcher]! < size) {
        snapshotMessages++;
        if (message.status) see(watcher, name, message.kind);
        for (const status of message.statuses) see(watcher, status.name, message.kind);
      }
      if (message.kind !== WatchEventKind.WATCH_EVENT_KIND_CHANGED || !round || name !== round.name) return;
      const now = performance.now();
      const state = message.status!.activeState;
      if (Number.isNaN(round.firstAt[watcher]) && state !== round.from) round.firstAt[watcher] = now;
      if (Number.isNaN(round.settledAt[watcher]) && round.settledStates.includes(state)) {
        round.settledAt[watcher] = now;
        if (++round.settled === count) round.done();
      }
    };

    const opened = performance.now();
    const deadline = opened + options.readyTimeoutMs;
    while (calls.length < count) {
      const target = Math.min(count, calls.length + batch);
      for (let i = calls.length; i < target; i++) {
        const call = (clients[i % clients.length] as StreamServiceClient).watchStatus({ team: TEAM, name: '', batchInitial: options.batchInitial });
        call.on('data', (message: WatchStatusResponse) => onMessage(i, message));
        call.on('error', (error) => {
          if (!closing) fail(new Error(`watcher ${i}: ${error.message}`));
        });
        call.on('end', () => {
          if (!closing) fail(new Error(`watcher ${i}: the server ended the stream`));
        });
        calls.push(call);
      }
      try {
        const batchReady = new Promise<void>((resolve) => {
          onReady = () => ready >= target && resolve();
          onReady();
        });
        await withTimeout(Promise.race([batchReady, failed]), Math.max(1, deadline - performance.now()), `${count} watchers getting a snapshot of ${size} streams each`);
      } catch (error) {
        const got = Array.from(distinct.subarray(0, calls.length));
        (error as Error).message +=
          ` (${ready}/${calls.length} opened watchers ready after ${((performance.now() - opened) / 1000).toFixed(1)} s; ` +
          `streams seen per watcher: min ${Math.min(...got)}, max ${Math.max(...got)})`;
        throw error;
      } finally {
        onReady = undefined;
      }
    }
    const readyMs = performance.now() - opened;
    const serverConnections = await acceptedConnections(options.port);

    const unit = unitOf(options.triggerStream);
    const path = unitObjectPath(unit);
    await options.bus.addMatch(
      `type='signal',sender='org.freedesktop.systemd1',interface='org.freedesktop.DBus.Properties',member='PropertiesChanged',path='${path}'`,
    );
    const onSignal = (signal: Signal) => {
      if (round && Number.isNaN(round.signalAt) && signal.path === path && signal.member === 'PropertiesChanged') round.signalAt = performance.now();
    };
    options.bus.on('signal', onSignal);
    stopListening = () => options.bus.removeListener('signal', onSignal);

    const allChanged: number[] = [];
    const afterSignal: number[] = [];
    const firstChanged: number[] = [];
    const allSettled: number[] = [];
    const afterJob: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const starting = r % 2 === 0; // the stream starts out stopped
      let done!: () => void;
      const settled = new Promise<void>((resolve) => (done = resolve));
      const current: Round = {
        name: options.triggerStream,
        from: starting ? ActiveState.ACTIVE_STATE_INACTIVE : ActiveState.ACTIVE_STATE_ACTIVE,
        settledStates: starting ? [ActiveState.ACTIVE_STATE_ACTIVE] : [ActiveState.ACTIVE_STATE_INACTIVE, ActiveState.ACTIVE_STATE_FAILED],
        firstAt: new Float64Array(count).fill(Number.NaN),
        settledAt: new Float64Array(count).fill(Number.NaN),
        settled: 0,
        signalAt: Number.NaN,
        done,
      };
      round = current;
      const t0 = performance.now();
      const job = options.jobs.run(unit, () =>
        starting ? options.manager.StartUnit(unit, 'replace') : options.manager.StopUnit(unit, 'replace'),
      );
      const [finished] = await withTimeout(
        Promise.all([job, Promise.race([settled, failed])]),
        options.roundTimeoutMs ?? 10_000,
        `round ${r + 1}: all ${count} watchers hearing that ${options.triggerStream} ${starting ? 'started' : 'stopped'} (${current.settled} did)`,
      );
      round = undefined;
      let firstMin = Infinity;
      let firstMax = -Infinity;
      let settledMax = -Infinity;
      for (let i = 0; i < count; i++) {
        firstMin = Math.min(firstMin, current.firstAt[i]!);
        firstMax = Math.max(firstMax, current.firstAt[i]!);
        settledMax = Math.max(settledMax, current.settledAt[i]!);
      }
      firstChanged.push(firstMin - t0);
      allChanged.push(firstMax - t0);
      afterSignal.push(firstMax - current.signalAt);
      allSettled.push(settledMax - t0);
      afterJob.push(settledMax - finished.at);
    }

    const measured = await whileConnected();
    return {
      available: true,
      watchers: count,
      channels: clients.length,
      batch,
      batchInitial: options.batchInitial,
      snapshotMessages,
      serverConnections,
      readyMs,
      initialReplacedByChanged,
      rounds,
      allChanged: summarize(allChanged),
      allChangedAfterSignal: summarize(afterSignal),
      firstChanged: summarize(firstChanged),
      allSettled: summarize(allSettled),
      allSettledAfterJobRemoved: summarize(afterJob),
      whileConnected: measured,
    };
  } finally {
    closing = true;
    stopListening();
    for (const call of calls) call.cancel();
    for (const client of clients) client.close();
    for (const channel of channels) channel.close();
  }
}

/**
 * One watcher first: the error UNIMPLEMENTED means the server has no WatchStatus (answers why),
 * a first message means it has (answers undefined).
 */
async function probe(client: StreamServiceClient): Promise<string | undefined> {
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
  }
}
