import { Metadata, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LogsResponse, WatchStatusResponse } from '../../gen/lit/stream/v1/stream.js';
import { type Harness, rpc, rpcError, startHarness } from './harness.js';

/** An agent of a fleet: lit-streamd with --host-name, every answer naming its host. */
let h: Harness;
beforeAll(async () => {
  h = await startHarness(undefined, { hostName: 'feed-1' });
  await rpc(h.client, h.client.start, { team: 'contoso', name: 'bitcoin' });
});
afterAll(async () => {
  await h?.stop();
});

/** Every message of a server stream that ends by itself (or the first `count`). */
function collect<T>(call: NodeJS.ReadableStream & { cancel(): void }, count = Infinity): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const messages: T[] = [];
    call.on('data', (message: T) => {
      messages.push(message);
      if (messages.length >= count) {
        call.cancel();
        resolve(messages);
      }
    });
    call.on('end', () => resolve(messages));
    call.on('error', (error: Error & { code?: number }) => (error.code === status.CANCELLED ? resolve(messages) : reject(error)));
  });
}

describe('an agent names its host', () => {
  it('in every listed stream, status, log line and action answer', async () => {
    const { streams } = await rpc(h.client, h.client.listStreams, { team: 'contoso', pageSize: 0, pageToken: '' });
    expect(streams.length).toBeGreaterThan(0);
    expect(new Set(streams.map((s) => s.host))).toEqual(new Set(['feed-1']));

    const { status: bitcoin, logs } = await rpc(h.client, h.client.getStatus, { team: 'contoso', name: 'bitcoin', logLines: 10 });
    expect(bitcoin?.host).toBe('feed-1');
    expect(logs.length).toBeGreaterThan(0);
    expect(new Set(logs.map((line) => line.host))).toEqual(new Set(['feed-1']));

    const restarted = await rpc(h.client, h.client.restart, { team: 'contoso', name: 'bitcoin' });
    expect(restarted.stream?.host).toBe('feed-1');
  });

  it('in what a watch and a Logs call send', async () => {
    const watched = await collect<WatchStatusResponse>(h.client.watchStatus({ team: 'contoso', name: '', batchInitial: true }), 1);
    expect(watched[0]?.statuses.length).toBeGreaterThan(0);
    expect(new Set(watched[0]?.statuses.map((s) => s.host))).toEqual(new Set(['feed-1']));
    const lines = await collect<LogsResponse>(
      h.client.logs({ team: 'contoso', name: 'bitcoin', follow: false, afterCursor: '', tailLines: 5 }, new Metadata(), { deadline: Date.now() + 20_000 }),
    );
    const entries = lines.flatMap((batch) => batch.entries);
    expect(entries.length).toBeGreaterThan(0);
    expect(new Set(entries.map((line) => line.host))).toEqual(new Set(['feed-1']));
  });

  it('answers a request for its own host as one that names none', async () => {
    const { status: bitcoin } = await rpc(h.client, h.client.getStatus, { team: 'contoso', name: 'bitcoin', host: 'feed-1' });
    expect(bitcoin?.name).toBe('bitcoin');
    const { streams } = await rpc(h.client, h.client.listStreams, { team: 'contoso', pageSize: 0, pageToken: '', host: 'feed-1' });
    expect(streams.map((s) => s.name)).toContain('bitcoin');
  });

  it('answers NOT_FOUND, naming both hosts, to any request for another host, and touches nothing', async () => {
    const other = { host: 'feed-2' };
    const refusals = [
      await rpcError(h.client, h.client.listStreams, { team: 'contoso', pageSize: 0, pageToken: '', ...other }),
      await rpcError(h.client, h.client.getStatus, { team: 'contoso', name: 'bitcoin', ...other }),
      await rpcError(h.client, h.client.stop, { team: 'contoso', name: 'bitcoin', ...other }),
      await rpcError(h.client, h.client.start, { team: 'contoso', name: 'ethereum', ...other }),
      await rpcError(h.client, h.client.restart, { team: 'contoso', name: 'bitcoin', ...other }),
    ];
    for (const refusal of refusals) {
      expect(refusal.code).toBe(status.NOT_FOUND);
      expect(refusal.details).toMatch(/'feed-2'.*'feed-1'/);
    }
    await expect(collect(h.client.watchStatus({ team: 'contoso', name: '', ...other }))).rejects.toMatchObject({ code: status.NOT_FOUND });
    await expect(
      collect(h.client.logs({ team: 'contoso', name: 'bitcoin', follow: false, afterCursor: '', ...other }, new Metadata(), { deadline: Date.now() + 20_000 })),
    ).rejects.toMatchObject({ code: status.NOT_FOUND, details: expect.stringMatching(/'feed-2'.*'feed-1'/) });
    // Neither the Stop nor the Start reached systemd.
    expect((await h.unitState('lit-stream-contoso@bitcoin.service')).ActiveState).toBe('active');
    expect((await h.unitState('lit-stream-contoso@ethereum.service')).ActiveState).not.toBe('active');
  });

  it('rejects a malformed host as INVALID_ARGUMENT', async () => {
    const error = await rpcError(h.client, h.client.getStatus, { team: 'contoso', name: 'bitcoin', host: 'feed 1/../x' });
    expect(error.code).toBe(status.INVALID_ARGUMENT);
  });
});
