// A process of WatchStatus watchers for the bench's watch phase (bench/watch.ts forks one or more):
// the watchers' clients run outside the bench process and take only what they need of each message,
// so the phase's figures are the server's rather than the load generator's.
import { type Channel, Client, credentials, type ClientReadableStream } from '@grpc/grpc-js';
import { ActiveState, StreamStatus, WatchEventKind, WatchStatusRequest } from '../gen/lit/stream/v1/stream.js';
import { openChannel } from './clients.js';
import { hrtimeMs, type FromWatchers, type ToWatchers, type WatchersOpen } from './watcherProtocol.js';

const METHOD = '/lit.stream.v1.StreamService/WatchStatus';

/** What a watcher needs of one WatchStatusResponse, read without decoding the statuses of a batch. */
interface Peeked {
  readonly kind: WatchEventKind;
  /** The single status (CHANGED, REMOVED, an unbatched INITIAL), still encoded. */
  readonly status?: Uint8Array;
  /** How many statuses a batched INITIAL carries. */
  readonly batched: number;
  readonly initialComplete: boolean;
}

/**
 * The top-level fields of an encoded WatchStatusResponse (proto field numbers: kind 1, status 2,
 * statuses 3, initial_complete 4), skipping over what it does not need.
 */
export function peek(bytes: Uint8Array): Peeked {
  let at = 0;
  const varint = (): number => {
    let value = 0;
    let shift = 0;
    for (;;) {
      const byte = bytes[at++]!;
      value += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return value;
      shift += 7;
    }
  };
  let kind = WatchEventKind.WATCH_EVENT_KIND_UNSPECIFIED;
  let status: Uint8Array | undefined;
  let batched = 0;
  let initialComplete = false;
  while (at < bytes.length) {
    const tag = varint();
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (wire === 0) {
      const value = varint();
      if (field === 1) kind = value;
      else if (field === 4) initialComplete = value !== 0;
    } else if (wire === 2) {
      const length = varint();
      if (field === 2) status = bytes.subarray(at, at + length);
      else if (field === 3) batched++;
      at += length;
    } else if (wire === 5) {
      at += 4;
    } else if (wire === 1) {
      at += 8;
    } else {
      throw new Error(`unexpected wire type ${wire} in a WatchStatusResponse`);
    }
  }
  return { kind, status, batched, initialComplete };
}

interface Round {
  readonly r: number;
  readonly name: string;
  readonly from: ActiveState;
  readonly settledStates: readonly ActiveState[];
  readonly firstAt: Float64Array;
  readonly settledAt: Float64Array;
  settled: number;
}

function send(message: FromWatchers): void {
  process.send!(message);
}

function run(open: WatchersOpen): void {
  const { count, size } = open;
  const channels: Channel[] = [];
  const clients: Client[] = [];
  for (let i = 0; i < Math.max(1, Math.min(open.channels, count)); i++) {
    const channel = openChannel(open.address, `watch-${open.first + i}`);
    channels.push(channel);
    clients.push(new Client(open.address, credentials.createInsecure(), { channelOverride: channel }));
  }
  const calls: ClientReadableStream<Buffer>[] = [];
  let closing = false;
  const statusesSeen = new Uint32Array(count);
  const complete = new Uint8Array(count);
  let ready = 0;
  let messages = 0;
  let replaced = 0;
  let round: Round | undefined;

  const fail = (why: string) => {
    if (closing) return;
    send({ type: 'failed', reason: why });
  };
  const onMessage = (watcher: number, bytes: Buffer) => {
    const message = peek(bytes);
    if (!complete[watcher]) {
      messages++;
      if (message.kind !== WatchEventKind.WATCH_EVENT_KIND_INITIAL && message.status) replaced++;
      statusesSeen[watcher]! += message.batched + (message.status ? 1 : 0);
      // A batched snapshot ends with initial_complete; one message per stream ends when every stream came.
      if (open.batchInitial ? message.initialComplete : statusesSeen[watcher]! >= size) {
        complete[watcher] = 1;
        // At least the declared streams (the logs phase adds one of its own to the team).
        if (open.batchInitial && statusesSeen[watcher]! < size) fail(`watcher ${open.first + watcher}: snapshot of ${statusesSeen[watcher]} streams, not ${size}`);
        if (++ready === count) send({ type: 'ready', at: hrtimeMs(), messages, replaced });
      }
    }
    if (message.kind !== WatchEventKind.WATCH_EVENT_KIND_CHANGED || !round || !message.status) return;
    const now = hrtimeMs();
    const status = StreamStatus.decode(message.status);
    if (status.name !== round.name) return;
    if (Number.isNaN(round.firstAt[watcher]) && status.activeState !== round.from) round.firstAt[watcher] = now;
    if (Number.isNaN(round.settledAt[watcher]) && round.settledStates.includes(status.activeState)) {
      round.settledAt[watcher] = now;
      if (++round.settled === count) {
        let firstMin = Infinity;
        let firstMax = -Infinity;
        let settledMax = -Infinity;
        for (let i = 0; i < count; i++) {
          firstMin = Math.min(firstMin, round.firstAt[i]!);
          firstMax = Math.max(firstMax, round.firstAt[i]!);
          settledMax = Math.max(settledMax, round.settledAt[i]!);
        }
        send({ type: 'round-done', r: round.r, firstMin, firstMax, settledMax });
        round = undefined;
      }
    }
  };

  const request = WatchStatusRequest.encode({ team: open.team, name: '', batchInitial: open.batchInitial, host: '' }).finish();
  for (let i = 0; i < count; i++) {
    const client = clients[i % clients.length]!;
    const call = client.makeServerStreamRequest<Uint8Array, Buffer>(
      METHOD,
      () => Buffer.from(request),
      (bytes) => bytes,
      request,
    );
    call.on('data', (bytes: Buffer) => onMessage(i, bytes));
    call.on('error', (error) => fail(`watcher ${open.first + i}: ${error.message}`));
    call.on('end', () => fail(`watcher ${open.first + i}: the server ended the stream`));
    calls.push(call);
  }

  process.on('message', (message: ToWatchers) => {
    if (message.type === 'round') {
      round = {
        r: message.r,
        name: message.name,
        from: message.from,
        settledStates: message.settledStates,
        firstAt: new Float64Array(count).fill(Number.NaN),
        settledAt: new Float64Array(count).fill(Number.NaN),
        settled: 0,
      };
      send({ type: 'armed', r: message.r });
    } else if (message.type === 'close') {
      closing = true;
      for (const call of calls) call.cancel();
      for (const client of clients) client.close();
      for (const channel of channels) channel.close();
      process.disconnect();
    }
  });
}

process.once('message', (message: ToWatchers) => {
  if (message.type !== 'open') throw new Error(`expected open, got ${message.type}`);
  run(message);
});
send({ type: 'started' });
// The bench going away (its IPC channel closing) ends this process too.
process.once('disconnect', () => setImmediate(() => process.exit(0)));
