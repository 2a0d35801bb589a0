import { createPrivateKey, X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAccessPolicy } from '../../src/auth/accessFile.js';
import { generateTestCertificates, type KeyPair, type TestCertificates } from '../support/certs.js';

describe('test certificates (test/support/certs.ts)', () => {
  let certs: TestCertificates;
  let tmpRoot: string;

  beforeAll(async () => {
    tmpRoot = await mkdtemp(join(tmpdir(), 'lit-stream-certs-spec-'));
    certs = await generateTestCertificates({ tmpRoot });
  });
  afterAll(async () => {
    await rm(tmpRoot, { recursive: true, force: true });
  });

  const x509 = (pair: KeyPair) => new X509Certificate(pair.cert);

  it('leaves nothing behind in the temporary directory', async () => {
    expect(await readdir(tmpRoot)).toEqual([]);
  });

  it('makes a client certificate that verifies against the CA, and a rogue one that does not', () => {
    const ca = x509(certs.ca);
    expect(x509(certs.client).checkIssued(ca)).toBe(true);
    expect(x509(certs.client).verify(ca.publicKey)).toBe(true);
    expect(x509(certs.rogueClient).checkIssued(ca)).toBe(false);
    expect(x509(certs.rogueClient).verify(ca.publicKey)).toBe(false);
    expect(x509(certs.rogueClient).verify(x509(certs.rogueCa).publicKey)).toBe(true);
  });

  it('names the client ingest-bot.contoso.internal, in its CN and a SAN DNS name, the rogue one too', () => {
    for (const client of [certs.client, certs.rogueClient]) {
      expect(x509(client).subject).toBe('CN=ingest-bot.contoso.internal');
      expect(x509(client).subjectAltName).toBe('DNS:ingest-bot.contoso.internal');
    }
  });

  it('makes a server certificate for 127.0.0.1, ::1 and localhost, signed by the CA', () => {
    const server = x509(certs.server);
    expect(server.checkIssued(x509(certs.ca))).toBe(true);
    expect(server.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(server.checkHost('localhost')).toBe('localhost');
    expect(server.checkIP('10.0.0.1')).toBeUndefined();
  });

  it('makes CAs that are CAs and leaves that are not, each key matching its certificate, EC P-256', () => {
    for (const [name, pair] of Object.entries(certs)) {
      const key = createPrivateKey(pair.key);
      expect(x509(pair).checkPrivateKey(key), name).toBe(true);
      expect(key.asymmetricKeyDetails?.namedCurve, name).toBe('prime256v1');
      expect(x509(pair).ca, name).toBe(name === 'ca' || name === 'rogueCa');
    }
  });

  describe('in a TLS handshake that requires a client certificate from the CA', () => {
    let server: tls.Server;
    let port: number;

    beforeAll(async () => {
      server = tls.createServer({
        key: certs.server.key,
        cert: certs.server.cert,
        ca: [certs.ca.cert],
        requestCert: true,
        rejectUnauthorized: true,
      });
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      port = (server.address() as AddressInfo).port;
    });
    afterAll(async () => {
      server.close();
      await once(server, 'close');
    });

    const connect = (client: KeyPair) =>
      tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca: [certs.ca.cert], cert: client.cert, key: client.key });

    it('is accepted for the client certificate, which the access policy identifies as ingest-bot', async () => {
      const accepted = once(server, 'secureConnection') as Promise<[tls.TLSSocket]>;
      const socket = connect(certs.client);
      try {
        const [serverSide] = await accepted;
        const peer = serverSide.getPeerCertificate();
        const policy = parseAccessPolicy('certificates: [{ name: ingest-bot, subject: ingest-bot.contoso.internal }]\ngrants: {}\n', 'yaml');
        expect(serverSide.authorized).toBe(true);
        expect(policy.identifyCertificate(peer)).toEqual({ name: 'ingest-bot', via: 'certificate' });
        serverSide.destroy();
      } finally {
        socket.destroy();
      }
    });

    it('is refused for the rogue CA\'s certificate, though it carries the same names', async () => {
      let accepted = 0;
      const countAccepted = () => accepted++;
      server.on('secureConnection', countAccepted);
      // node's server checks the client certificate once the handshake is done and, with
      // rejectUnauthorized, destroys the socket: a tlsClientError, and no secureConnection.
      const refused = once(server, 'tlsClientError');
      const socket = connect(certs.rogueClient);
      socket.on('error', () => {}); // the client just sees the connection end
      try {
        await Promise.all([refused, once(socket, 'close')]);
        expect(accepted).toBe(0);
      } finally {
        server.off('secureConnection', countAccepted);
        socket.destroy();
      }
    });
  });
});
