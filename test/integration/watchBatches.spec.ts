import type { ClientReadableStream } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INITIAL_BATCH } from '../../src/api/watchStatus.js';
import { ActiveState, WatchEventKind, type WatchStatusRequest, type WatchStatusResponse } from '../../gen/lit/stream/v1/stream.js';
import { FIXTURE_UNITS, type Harness, rpc, startHarness, waitFor } from './harness.js';

/** Team `many`: more streams than fit in one batch, as symlinks to its template. */
const MANY = INITIAL_BATCH + 44;
const manyNames = Array.from({ length: MANY }, (_, i) => `m${String(i).padStart(4, '0')}`);
const UNITS = {
  ...FIXTURE_UNITS,
  'lit-stream-many@.service': '[Service]\nType=exec\nExecStart=/bin/sleep infinity\n',
  ...Object.fromEntries(manyNames.map((name) => [`lit-stream-many@${name}.service`, { link: 'lit-stream-many@.service' }])),
};

let h: Harness;
beforeAll(async () => {
  h = await startHarness(UNITS);
});
afterAll(async () => {
  await h?.stop();
});

function watch(request: WatchStatusRequest) {
  const call: ClientReadableStream<WatchStatusResponse> = h.client.watchStatus(request);
  const messages: WatchStatusResponse[] = [];
  call.on('data', (message: WatchStatusResponse) => messages.push(message));
  call.on('error', () => undefined);
  return { call, messages };
}

const complete = (messages: WatchStatusResponse[]) => messages.some((message) => message.initialComplete);

describe('WatchStatus with batch_initial', () => {
  it('sends a team’s initial statuses in one message, marked complete, then each change on its own', async () => {
    const { call, messages } = watch({ team: 'contoso', name: '', batchInitial: true });
    try {
      await waitFor(() => complete(messages), 10_000, 'the snapshot');
      expect(messages).toHaveLength(1);
      const [snapshot] = messages;
      expect(snapshot!.kind).toBe(WatchEventKind.WATCH_EVENT_KIND_INITIAL);
      expect(snapshot!.status).toBeUndefined();
      // Every declared stream of the team, in name order; `alias` (another team's template) is not one.
      expect(snapshot!.statuses.map((status) => status.name)).toEqual(['bitcoin', 'crash', 'ethereum', 'masked', 'slow']);

      await rpc(h.client, h.client.start, { team: 'contoso', name: 'bitcoin' });
      await waitFor(() => messages.some((m) => m.status?.activeState === ActiveState.ACTIVE_STATE_ACTIVE), 10_000, 'the change');
      const change = messages.find((m) => m.status?.activeState === ActiveState.ACTIVE_STATE_ACTIVE)!;
      expect(change).toMatchObject({ kind: WatchEventKind.WATCH_EVENT_KIND_CHANGED, statuses: [], initialComplete: false });
      expect(change.status!.name).toBe('bitcoin');
    } finally {
      call.cancel();
      await rpc(h.client, h.client.stop, { team: 'contoso', name: 'bitcoin' });
    }
  });

  it(`splits more than ${INITIAL_BATCH} streams over several messages, each stream once, only the last marked complete`, async () => {
    const { call, messages } = watch({ team: 'many', name: '', batchInitial: true });
    try {
      await waitFor(() => complete(messages), 15_000, 'the snapshot');
      expect(messages.map((m) => m.statuses.length)).toEqual([INITIAL_BATCH, MANY - INITIAL_BATCH]);
      expect(messages.map((m) => m.initialComplete)).toEqual([false, true]);
      expect(messages.every((m) => m.kind === WatchEventKind.WATCH_EVENT_KIND_INITIAL)).toBe(true);
      expect(messages.flatMap((m) => m.statuses.map((status) => status.name))).toEqual(manyNames);
    } finally {
      call.cancel();
    }
  });

  it('says the snapshot is complete even when the team has no streams', async () => {
    const { call, messages } = watch({ team: 'acme', name: '', batchInitial: true });
    try {
      await waitFor(() => messages.length > 0, 10_000, 'the empty snapshot');
      expect(messages).toEqual([expect.objectContaining({ kind: WatchEventKind.WATCH_EVENT_KIND_INITIAL, statuses: [], initialComplete: true })]);
    } finally {
      call.cancel();
    }
  });

  it('gives one stream’s watcher a batch of one', async () => {
    const { call, messages } = watch({ team: 'contoso', name: 'ethereum', batchInitial: true });
    try {
      await waitFor(() => complete(messages), 10_000, 'the snapshot');
      expect(messages.map((m) => m.statuses.map((s) => s.name))).toEqual([['ethereum']]);
    } finally {
      call.cancel();
    }
  });

  it('without batch_initial, still sends one INITIAL message per stream, as older clients expect', async () => {
    const { call, messages } = watch({ team: 'many', name: '' });
    try {
      await waitFor(() => messages.length >= MANY, 15_000, 'a message per stream');
      expect(messages.slice(0, MANY).every((m) => m.kind === WatchEventKind.WATCH_EVENT_KIND_INITIAL && m.status && m.statuses.length === 0)).toBe(true);
      expect(messages.some((m) => m.initialComplete)).toBe(false);
    } finally {
      call.cancel();
    }
  });
});
