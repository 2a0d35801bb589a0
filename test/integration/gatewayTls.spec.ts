import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { credentials, Metadata, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashToken } from '../../src/auth/index.js';
import { startGateway, type RunningGateway } from '../../src/daemon/gateway.js';
import { createLogger } from '../../src/daemon/main.js';
import { StreamServiceClient } from '../../gen/lit/stream/v1/stream.js';
import { generateTestCertificates, type TestCertificates } from '../support/certs.js';
import { type Harness, startHarness } from './harness.js';

/**
 * A gateway's client identity towards its agents (the fleet file's `tls`) on loopback: an agent
 * serving TLS that checks client certificates against its CA, whose access file makes the
 * gateway's certificate the `gateway` role, and a gateway in front with its own access file.
 */
const GATEWAY_SUBJECT = 'gateway.fleet.test';
const ALICE = 'alice-token';

let certs: TestCertificates;
let dir: string;
let agent: Harness;
let gateway: RunningGateway;
let client: StreamServiceClient;

const file = (name: string) => join(dir, name);

beforeAll(async () => {
  certs = await generateTestCertificates({ clientSubject: GATEWAY_SUBJECT });
  dir = await mkdtemp(join(tmpdir(), 'lit-stream-gateway-tls-'));
  await Promise.all([
    writeFile(file('ca.pem'), certs.ca.cert),
    writeFile(file('agent.pem'), certs.server.cert),
    writeFile(file('agent.key'), certs.server.key),
    writeFile(file('agent-access.yaml'), `certificates:\n  - { name: gateway-1, subject: "DNS:${GATEWAY_SUBJECT}" }\ngrants:\n  gateway-1: gateway\n  alice: { contoso: reader }\n`),
    writeFile(file('gateway-access.yaml'), `tokens:\n  - { name: alice, sha256: ${hashToken(ALICE)} }\ngrants:\n  alice: { contoso: reader }\n`),
  ]);
  agent = await startHarness(
    { 'lit-stream-contoso@.service': '[Service]\nType=exec\nExecStart=/bin/sleep infinity\n', 'lit-stream-contoso@bitcoin.service': { link: 'lit-stream-contoso@.service' } },
    { tlsCert: file('agent.pem'), tlsKey: file('agent.key'), clientCa: file('ca.pem'), accessFile: file('agent-access.yaml') },
  );
});

afterAll(async () => {
  client?.close();
  await gateway?.shutdown(2_000);
  await agent?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const asAlice = () => {
  const metadata = new Metadata();
  metadata.set('authorization', `Bearer ${ALICE}`);
  return metadata;
};

function list() {
  return new Promise<{ rows: string[]; hostErrors: { host: string; code: number }[] }>((resolve, reject) =>
    client.listStreams({ team: 'contoso', pageSize: 0, pageToken: '' }, asAlice(), { deadline: Date.now() + 10_000 }, (error, page) =>
      error ? reject(error) : resolve({ rows: page.streams.map((s) => `${s.name}@${s.host}`), hostErrors: page.hostErrors.map(({ host, code }) => ({ host, code })) }),
    ),
  );
}

describe("a fleet gateway's certificate towards its agents", () => {
  it('is read again on reload: a certificate renewed in place (same file names) is the one used from then on', async () => {
    // The gateway starts with a certificate from a CA the agent does not trust: it names no one.
    await writeFile(file('gateway.pem'), certs.rogueClient.cert);
    await writeFile(file('gateway.key'), certs.rogueClient.key);
    await writeFile(file('fleet.yaml'), `hosts:\n  - name: feed-1\n    address: ${agent.address}\ndeadline: 2s\ntls: { ca: ca.pem, cert: gateway.pem, key: gateway.key }\n`);
    const sink = new Writable({ write: (_chunk, _encoding, done) => done() });
    gateway = await startGateway({ listen: '127.0.0.1:0', log: createLogger('info', sink), fleetFile: file('fleet.yaml'), accessFile: file('gateway-access.yaml') });
    client = new StreamServiceClient(gateway.address, credentials.createInsecure());
    expect(await list()).toEqual({ rows: [], hostErrors: [{ host: 'feed-1', code: status.UNAUTHENTICATED }] });

    // Renewed by the CA the agent trusts, written over the same files, then SIGHUP.
    await writeFile(file('gateway.pem'), certs.client.cert);
    await writeFile(file('gateway.key'), certs.client.key);
    expect((await gateway.reload()).fleet).toBe(true);
    expect(await list()).toEqual({ rows: ['bitcoin@feed-1'], hostErrors: [] });
    // The agent heard the gateway's certificate, acting for alice.
    expect(agent.logs.some((line) => line.msg === 'rpc' && line.identity === 'alice' && line.gateway === 'gateway-1')).toBe(true);
  }, 60_000);
});
