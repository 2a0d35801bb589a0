import { Client, credentials, Metadata, type ServiceError, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURE_UNITS, type Harness, rpc, rpcError, startHarness, waitFor } from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness(
    { ...FIXTURE_UNITS, 'lit-stream-contoso@slow2.service': '[Service]\nType=exec\nExecStartPre=/bin/sleep 1\nExecStart=/bin/sleep infinity\n' },
    { maxCallsPerIdentity: 3, maxMessageBytes: 4096 },
  );
});
afterAll(async () => {
  await h?.stop();
});

const slow = { team: 'contoso', name: 'slow' };

describe('limits', () => {
  it('answers RESOURCE_EXHAUSTED past the concurrent calls allowed per identity, and serves again after', async () => {
    const calls = [
      rpc(h.client, h.client.start, slow),
      rpc(h.client, h.client.start, { team: 'contoso', name: 'slow2' }),
      rpc(h.client, h.client.restart, slow),
    ];
    await waitFor(async () => (await h.unitState('lit-stream-contoso@slow.service')).ActiveState === 'activating', 5_000, 'the start job');
    const error = await rpcError(h.client, h.client.getStatus, { team: 'contoso', name: 'bitcoin' });
    expect(error.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(error.details).toContain('limit 3');
    await Promise.all(calls);
    expect((await rpc(h.client, h.client.getStatus, { team: 'contoso', name: 'bitcoin' })).status?.name).toBe('bitcoin');
    await rpc(h.client, h.client.stop, slow);
    await rpc(h.client, h.client.stop, { team: 'contoso', name: 'slow2' });
  });

  it('answers an oversized request with RESOURCE_EXHAUSTED, and keeps serving', async () => {
    const error = await rpcError(h.client, h.client.getStatus, { team: 'contoso', name: 'x'.repeat(10_000) });
    expect(error.code).toBe(status.RESOURCE_EXHAUSTED);
    expect((await rpc(h.client, h.client.getStatus, { team: 'contoso', name: 'bitcoin' })).status?.name).toBe('bitcoin');
  });

  it('answers a request that is not a valid protobuf message with an error, and keeps serving', async () => {
    const raw = new Client(h.address, credentials.createInsecure());
    const code = await new Promise<status>((resolve) =>
      raw.makeUnaryRequest(
        '/lit.stream.v1.StreamService/GetStatus',
        (bytes: Buffer) => bytes,
        (bytes: Buffer) => bytes,
        Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]), // field 1, length far past the end
        new Metadata(),
        { deadline: Date.now() + 5_000 },
        (error: ServiceError | null) => resolve(error ? error.code : status.OK),
      ),
    );
    raw.close();
    expect(code).toBe(status.INTERNAL); // grpc-js's answer when a request can't be deserialized
    expect((await rpc(h.client, h.client.getStatus, { team: 'contoso', name: 'bitcoin' })).status?.name).toBe('bitcoin');
  });
});
