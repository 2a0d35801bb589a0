import { once } from 'node:events';
import { connect } from 'node:http2';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ClientReadableStream, credentials, Metadata, type ServiceError, status } from '@grpc/grpc-js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { hashToken } from '../../src/auth/index.js';
import { UNIDENTIFIED_LIMITS } from '../../src/rpc/callLimits.js';
import type { CallObserver } from '../../src/rpc/callPipeline.js';
import { HealthClient } from '../../gen/grpc/health/v1/health.js';
import * as reflection from '../../gen/grpc/reflection/v1/reflection.js';
import { StreamServiceClient, type WatchStatusResponse } from '../../gen/lit/stream/v1/stream.js';
import { type Harness, startHarness, waitFor } from './harness.js';

/**
 * Nobody can exhaust the server cheaply: not with big reflection requests or answers it never
 * reads, not by opening streams without end, and access taken away ends what it had opened.
 */

const TOKENS = { reader: 'reader-token-Qw1', other: 'other-reader-token-Er2' };
const accessFile = (grants: string) => `
tokens:
  - { name: dashboard, sha256: ${hashToken(TOKENS.reader)} }
  - { name: wallboard, sha256: ${hashToken(TOKENS.other)} }
grants:
${grants}
`;

function bearer(token: string): Metadata {
  const metadata = new Metadata();
  metadata.set('authorization', `Bearer ${token}`);
  return metadata;
}

/** Resolves with the code a streaming call ends with (after `onData` for each message). */
function ended(call: ClientReadableStream<unknown>, onData: (message: unknown) => void = () => undefined): Promise<status> {
  return new Promise((resolve) => {
    call.on('data', onData);
    call.on('error', (error: ServiceError) => resolve(error.code));
    call.on('end', () => resolve(status.OK));
  });
}

/** Resolves once the stream's first message arrived: the server has admitted the call. */
function firstMessage(call: ClientReadableStream<unknown>): Promise<void> {
  return new Promise((resolve, reject) => {
    call.once('data', () => resolve());
    call.once('error', reject);
  });
}

describe('with an access file', () => {
  let h: Harness;
  let dir: string;
  let path: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lit-stream-exhaustion-'));
    path = join(dir, 'access.yaml');
    await writeFile(path, accessFile('  dashboard: { contoso: reader }\n  wallboard: { contoso: reader }'));
    h = await startHarness(undefined, { accessFile: path });
  });
  afterAll(async () => {
    await h?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('answers reflection only to a known identity, and health to anyone', async () => {
    const client = new reflection.ServerReflectionClient(h.address, credentials.createInsecure());
    const health = new HealthClient(h.address, credentials.createInsecure());
    try {
      const ask = (metadata: Metadata) => {
        const call = client.serverReflectionInfo(metadata);
        const code = ended(call);
        call.write({ host: '', listServices: '' });
        call.end();
        return code;
      };
      expect(await ask(new Metadata())).toBe(status.UNAUTHENTICATED);
      expect(await ask(bearer('not-a-token'))).toBe(status.UNAUTHENTICATED);
      expect(await ask(bearer(TOKENS.reader))).toBe(status.OK);
      const serving = await new Promise((resolve, reject) => health.check({ service: '' }, (e, r) => (e ? reject(e) : resolve(r.status))));
      expect(serving).toBe(1); // SERVING, with no credentials at all
    } finally {
      client.close();
      health.close();
    }
  });

  it("ends an identity's open watches with PERMISSION_DENIED when a reload takes its grant away, and leaves others streaming", async () => {
    const client = new StreamServiceClient(h.address, credentials.createInsecure());
    try {
      const revoked = client.watchStatus({ team: 'contoso', name: '' }, bearer(TOKENS.reader));
      const kept = client.watchStatus({ team: 'contoso', name: 'bitcoin' }, bearer(TOKENS.other));
      const keptMessages: WatchStatusResponse[] = [];
      const revokedCode = ended(revoked);
      const keptCode = ended(kept, (message) => keptMessages.push(message as WatchStatusResponse));
      await waitFor(() => keptMessages.length > 0, 10_000, "the other watcher's first message");
      await waitFor(() => h.server.calls.streamCount === 2, 10_000, 'both watches admitted');

      await writeFile(path, accessFile('  wallboard: { contoso: reader }'));
      expect(await h.server.reloadAccess()).toBe(true);

      expect(await revokedCode).toBe(status.PERMISSION_DENIED);
      // The other watch still streams: a change of bitcoin reaches it.
      const before = keptMessages.length;
      await h.sandbox.withManager((manager) => manager.RestartUnit('lit-stream-contoso@bitcoin.service', 'replace'));
      await waitFor(() => keptMessages.length > before, 10_000, 'a change reaching the watch that kept its grant');
      kept.cancel();
      expect(await keptCode).toBe(status.CANCELLED);
    } finally {
      client.close();
    }
  });
});

describe('open streams', () => {
  let h: Harness;
  const clients: { close(): void }[] = [];
  beforeAll(async () => {
    h = await startHarness(undefined, { maxStreamsPerIdentity: 3, maxStreams: 4 });
  });
  afterEach(() => {
    for (const client of clients.splice(0)) client.close();
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('are limited per identity and in all (RESOURCE_EXHAUSTED), and count again once closed', async () => {
    const client = new StreamServiceClient(h.address, credentials.createInsecure());
    const health = new HealthClient(h.address, credentials.createInsecure());
    clients.push(client, health);
    const watch = () => client.watchStatus({ team: 'contoso', name: 'bitcoin' });
    const watches = [watch(), watch(), watch()];
    await Promise.all(watches.map(firstMessage));

    // The caller (anonymous: there is no access file) holds 3, its limit.
    const fourth = watch();
    expect(await ended(fourth)).toBe(status.RESOURCE_EXHAUSTED);

    // Closing one makes room again.
    watches[0]!.cancel();
    await waitFor(() => h.server.calls.streamCount === 2, 10_000, 'the cancelled watch to be released');
    const again = watch();
    await firstMessage(again);
    for (const call of [again, ...watches]) call.cancel();
    await waitFor(() => h.server.calls.streamCount === 0 && h.server.view.watcherCount === 0, 10_000, 'every stream released');
  });

  it('without credentials (health watches, per peer address) have a budget of their own: they never take what identified callers may open', async () => {
    const client = new StreamServiceClient(h.address, credentials.createInsecure());
    const health = new HealthClient(h.address, credentials.createInsecure());
    clients.push(client, health);
    // More health watches than the whole server-wide limit (4) of identified callers' streams...
    const probes = Array.from({ length: UNIDENTIFIED_LIMITS.streamsPerPeer }, () => health.watch({ service: '' }));
    await Promise.all(probes.map(firstMessage));
    // ...are refused past their own per-peer limit,
    expect(await ended(health.watch({ service: '' }))).toBe(status.RESOURCE_EXHAUSTED);
    // ...and leave the identified callers' room untouched.
    const watch = client.watchStatus({ team: 'contoso', name: 'bitcoin' });
    await firstMessage(watch);
    for (const call of [watch, ...probes]) call.cancel();
    await waitFor(() => h.server.calls.streamCount === 0, 10_000, 'every stream released');
  });
});

describe('reflection', () => {
  let h: Harness;
  const counts = { received: 0, sent: 0 };
  const counter: CallObserver = {
    started: () => undefined,
    received: (spec) => void (spec.method === 'ServerReflectionInfo' && counts.received++),
    sent: (spec) => void (spec.method === 'ServerReflectionInfo' && counts.sent++),
    handled: () => undefined,
  };
  beforeAll(async () => {
    h = await startHarness(undefined, { callObservers: [counter] });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('refuses a request far bigger than any name (RESOURCE_EXHAUSTED), without echoing it', async () => {
    const client = new reflection.ServerReflectionClient(h.address, credentials.createInsecure());
    try {
      const call = client.serverReflectionInfo();
      const answers: unknown[] = [];
      const code = ended(call, (answer) => answers.push(answer));
      call.write({ host: 'x'.repeat(4 * 1024 * 1024 - 64), listServices: '' });
      expect(await code).toBe(status.RESOURCE_EXHAUSTED);
      expect(answers).toEqual([]);
    } finally {
      client.close();
    }
  });

  it('pushes back on a client that sends requests but never reads the answers, and loses none of them', async () => {
    // A raw HTTP/2 client, as an attacker would use: it sends gRPC frames and reads nothing, so
    // HTTP/2 flow control stops the answers at its window. The server reads a request only once
    // its last answer went out, so it stops reading too: what it holds is bounded by its buffers.
    const session = connect(`http://${h.address}`);
    await once(session, 'connect');
    const stream = session.request({
      ':method': 'POST',
      ':path': '/grpc.reflection.v1.ServerReflection/ServerReflectionInfo',
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    stream.pause();
    try {
      const request = reflection.ServerReflectionRequest.encode({ host: 'h'.repeat(15_000), listServices: '' }).finish();
      const frame = Buffer.concat([Buffer.from([0, 0, 0, 0, 0]), request]);
      frame.writeUInt32BE(request.length, 1);
      /** One PING round trip: the server's HTTP/2 layer has processed every frame sent before it. */
      const pingRoundTrip = () => new Promise<void>((resolve, reject) => session.ping((error) => (error ? reject(error) : resolve())));
      /**
       * Whether a write the stream holds back stays held back: the server neither takes it (drain)
       * nor any part of it across two round trips — after the first, any room it made in its
       * flow-control window has reached the client; by the second, the client has used it.
       * Judged by the server's HTTP/2 answers, not by time: a loaded machine only makes it slower.
       */
      const heldBack = async (): Promise<boolean> => {
        let drained = false;
        const onDrain = () => (drained = true);
        stream.once('drain', onDrain);
        try {
          for (;;) {
            const pending = stream.writableLength;
            await pingRoundTrip();
            await pingRoundTrip();
            if (drained) return false;
            if (stream.writableLength >= pending) return true;
          }
        } finally {
          stream.off('drain', onDrain);
        }
      };
      let written = 0;
      let pushedBack = false;
      // Writes until the server stops taking requests. Without backpressure the server would read
      // and answer all 4,000 (60 MB of answers).
      while (written < 4_000 && !pushedBack) {
        written++;
        if (!stream.write(frame)) pushedBack = await heldBack();
      }
      expect(pushedBack).toBe(true);
      expect(counts.sent).toBeLessThan(100); // a window's worth, not what was sent
      expect(counts.received).toBeLessThanOrEqual(counts.sent + 1);

      // Reading resumes everything: every request is answered.
      let answered = 0;
      let pending = Buffer.alloc(0);
      stream.on('data', (chunk: Buffer) => {
        pending = Buffer.concat([pending, chunk]);
        while (pending.length >= 5 && pending.length >= 5 + pending.readUInt32BE(1)) {
          pending = pending.subarray(5 + pending.readUInt32BE(1));
          answered++;
        }
      });
      stream.resume();
      stream.end();
      await waitFor(() => answered === written, 30_000, 'every request answered');
    } finally {
      stream.close();
      session.close();
    }
  }, 60_000);
});

describe('at shutdown', () => {
  it('ends open watches and reflection streams (UNAVAILABLE) at once instead of waiting out the grace period, and the view keeps no listener', async () => {
    const h = await startHarness();
    const client = new StreamServiceClient(h.address, credentials.createInsecure());
    const reflectionClient = new reflection.ServerReflectionClient(h.address, credentials.createInsecure());
    try {
      const watch = client.watchStatus({ team: 'contoso', name: '' });
      const watchCode = ended(watch);
      await firstMessage(watch);
      const idle = reflectionClient.serverReflectionInfo(); // open, never half-closed
      const idleCode = ended(idle);
      idle.write({ host: '', listServices: '' });
      await waitFor(() => h.server.calls.streamCount === 2, 10_000, 'both streams admitted');

      const startedAt = Date.now();
      await h.server.shutdown(30_000);
      expect(Date.now() - startedAt).toBeLessThan(15_000); // not the 30 s grace period
      expect(await watchCode).toBe(status.UNAVAILABLE);
      expect(await idleCode).toBe(status.UNAVAILABLE);
      expect(h.server.view.watcherCount).toBe(0);
      expect(h.server.calls.streamCount).toBe(0);
    } finally {
      client.close();
      reflectionClient.close();
      await h.stop();
    }
  });
});
