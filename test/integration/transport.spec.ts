import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type ChannelCredentials, credentials, Metadata, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HealthClient } from '../../gen/grpc/health/v1/health.js';
import { hashToken } from '../../src/auth/index.js';
import { closeSharedClients, Stream } from '../../clients/typescript/src/index.js';
import { UnitNaming } from '../../src/core/unitNaming.js';
import { createLogger } from '../../src/daemon/main.js';
import { startServer } from '../../src/daemon/server.js';
import { generateTestCertificates, type TestCertificates } from '../support/certs.js';
import { type Harness, startHarness, waitFor } from './harness.js';

let dir: string;
let accessFile: string;
let certs: TestCertificates;
const TOKEN = 'transport-admin-token';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lit-stream-transport-'));
  accessFile = join(dir, 'access.json');
  await writeFile(accessFile, JSON.stringify({ tokens: [{ name: 'admin', sha256: hashToken(TOKEN) }], certificates: [], grants: { admin: 'admin' } }));
  certs = await generateTestCertificates();
  for (const [name, pem] of Object.entries({ 'server.pem': certs.server.cert, 'server.key': certs.server.key, 'ca.pem': certs.ca.cert })) {
    await writeFile(join(dir, name), pem);
  }
});
afterAll(async () => {
  closeSharedClients();
  await rm(dir, { recursive: true, force: true });
});

function start(options: { listen: string; accessFile?: string; insecure?: boolean; tlsCert?: string; tlsKey?: string }) {
  const lines: Record<string, unknown>[] = [];
  const sink = { write: (line: string) => lines.push(JSON.parse(line)) };
  const server = startServer({ bus: 'unix:path=/nonexistent', naming: new UnitNaming(), log: createLogger('info', sink), ...options });
  return { server, lines };
}

/**
 * A health check (open to anyone) at `address`: 'answered' when the server answered it, whatever it
 * said (these servers have no systemd), else the code the call failed with.
 */
function healthCheck(address: string, channel: ChannelCredentials): Promise<'answered' | status> {
  const client = new HealthClient(address, channel);
  return new Promise<'answered' | status>((resolve) => {
    client.check({ service: '' }, new Metadata(), { deadline: Date.now() + 10_000 }, (error) => resolve(error ? error.code : 'answered'));
  }).finally(() => client.close());
}

describe('where the server agrees to listen', () => {
  it('refuses a non-loopback address without an access file', async () => {
    await expect(start({ listen: '0.0.0.0:0' }).server).rejects.toThrow(/without an access file/);
  });

  it('refuses plaintext on a non-loopback address, even with an access file', async () => {
    await expect(start({ listen: '0.0.0.0:0', accessFile }).server).rejects.toThrow(/refusing plaintext/);
  });

  it('serves plaintext off loopback with --insecure, and says so loudly', async () => {
    const { server, lines } = start({ listen: '0.0.0.0:0', accessFile, insecure: true });
    await (await server).shutdown();
    expect(lines.some((line) => line.level === 40 && String(line.msg).startsWith('INSECURE'))).toBe(true);
  });

  it('serves TLS off loopback with an access file', async () => {
    const running = await start({ listen: '0.0.0.0:0', accessFile, tlsCert: join(dir, 'server.pem'), tlsKey: join(dir, 'server.key') }).server;
    const port = running.address.slice(running.address.lastIndexOf(':') + 1);
    try {
      // A client that trusts the CA gets an answer over TLS; a plaintext one gets none.
      expect(await healthCheck(`127.0.0.1:${port}`, credentials.createSsl(certs.ca.cert))).toBe('answered');
      expect(await healthCheck(`127.0.0.1:${port}`, credentials.createInsecure())).toBe(status.UNAVAILABLE);
    } finally {
      await running.shutdown();
    }
  });
});

describe('shutdown', () => {
  it('ends after its grace period even when a TLS client knocked on its plaintext port', async () => {
    const running = await start({ listen: '127.0.0.1:0' }).server;
    // The handshake fails; the server is left with a connection whose socket is gone but whose
    // HTTP/2 session never closed, which grpc-js's tryShutdown waits for for ever.
    expect(await healthCheck(running.address, credentials.createSsl(certs.ca.cert))).toBe(status.UNAVAILABLE);
    let ended = false;
    const shutdown = running.shutdown(200).then(() => (ended = true));
    await waitFor(() => ended, 10_000, 'the shutdown to end');
    await shutdown;
  });
});

describe('a unix socket', () => {
  let h: Harness;
  const socket = () => join(dir, 'lit-streamd.sock');
  beforeAll(async () => {
    h = await startHarness(undefined, { listen: `unix:${socket()}`, socketMode: 0o600 });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('is created with the configured file mode', async () => {
    expect((await stat(socket())).mode & 0o777).toBe(0o600);
  });

  it('serves the client library', async () => {
    expect((await new Stream('contoso', 'bitcoin', { address: `unix:${socket()}` }).status()).name).toBe('bitcoin');
  });

  it('is not taken over by a second server on the same path while the first one answers', async () => {
    await expect(start({ listen: `unix:${socket()}`, socketMode: 0o666 } as never).server).rejects.toThrow(/is in use: another server is listening on it/);
    // The first server's socket is still there, with its mode, and still serves.
    expect((await stat(socket())).mode & 0o777).toBe(0o600);
    expect((await new Stream('contoso', 'ethereum', { address: `unix:${socket()}` }).status()).name).toBe('ethereum');
  });

  it('replaces a stale socket file that nothing answers on', async () => {
    // A server killed outright leaves its socket file behind, with nobody listening on it.
    const stale = join(dir, 'stale.sock');
    const crashed = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(stale)})`]);
    await waitFor(() => stat(stale).then(() => true, () => false), 10_000, 'the socket file');
    crashed.kill('SIGKILL');
    await new Promise((resolve) => crashed.once('exit', resolve));
    const running = await start({ listen: `unix:${stale}` }).server;
    try {
      expect(await healthCheck(`unix:${stale}`, credentials.createInsecure())).toBe('answered');
    } finally {
      await running.shutdown();
    }
  });
});

describe('the client on a secured server', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(undefined, {
      accessFile,
      tlsCert: join(dir, 'server.pem'),
      tlsKey: join(dir, 'server.key'),
      clientCredentials: credentials.createSsl(certs.ca.cert),
    });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('takes token and CA from options', async () => {
    const stream = new Stream('contoso', 'bitcoin', { address: h.address, token: TOKEN, tls: { ca: certs.ca.cert } });
    expect((await stream.status()).name).toBe('bitcoin');
    const anonymous = new Stream('contoso', 'bitcoin', { address: h.address, tls: { ca: certs.ca.cert } });
    await expect(anonymous.status()).rejects.toMatchObject({ code: status.UNAUTHENTICATED });
  });

  it("runs the seed's two-liner unchanged with LIT_STREAM_TOKEN and LIT_STREAM_CA in the environment", async () => {
    const script = `
      import { Stream } from '@lit-stream/client';
      const stream = new Stream('contoso', 'ethereum');
      console.log(JSON.stringify(await stream.start()));
      console.log(JSON.stringify(await stream.stop()));`;
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...process.env, LIT_STREAM_ADDR: h.address, LIT_STREAM_TOKEN: TOKEN, LIT_STREAM_CA: join(dir, 'ca.pem') },
      timeout: 20_000,
    });
    expect(stdout.trim().split('\n').map((line) => JSON.parse(line))).toEqual([
      { status: 'SUCCESS', message: 'Stream started successfully.' },
      { status: 'SUCCESS', message: 'Stream stopped successfully.' },
    ]);
  });
});
