import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseAccessPolicy } from '../../src/auth/accessFile.js';
import type { AccessPolicy, Identity } from '../../src/auth/policy.js';
import { REQUIRED_ROLE, requiredRoleOf, roleSatisfies, ROLES, type Role } from '../../src/auth/roles.js';
import { parseSubjectAltName } from '../../src/auth/subjectAltName.js';
import { hashToken } from '../../src/auth/tokens.js';
import { generateTestCertificates, type TestCertificates } from '../support/certs.js';

const policy: AccessPolicy = parseAccessPolicy(
  `
tokens:
  - { name: dashboard, sha256: ${hashToken('dashboard-token')} }
  - { name: ops, sha256: ${hashToken('ops-token')} }
  - { name: nobody, sha256: ${hashToken('nobody-token')} }
certificates:
  - { name: ingest-bot, subject: ingest-bot.contoso.internal }
  - { name: spiffe-bot, subject: "spiffe://contoso.internal/ns/ingest/sa/bot" }
  - { name: mail-bot, subject: bot@contoso.internal }
  - { name: legacy-bot, subject: legacy-bot }
grants:
  dashboard: { contoso: reader }
  log-viewer: { contoso: [reader, logs], contoso-eu: logs }
  scraper: [metrics, { contoso: reader }]
  ingest-bot: { contoso: operator, contoso-eu: reader }
  spiffe-bot: { contoso-eu: operator }
  mail-bot: { contoso: reader }
  legacy-bot: { contoso: reader }
  ops: admin
`,
  'yaml',
);

const identity = (name: string): Identity => ({ name, via: 'token' });
const dashboard = identity('dashboard');
const ingestBot = identity('ingest-bot');
const ops = identity('ops');
const nobody = identity('nobody');

const READS = ['ListStreams', 'GetStatus', 'WatchStatus'];
const LOG_READS = ['Logs', 'ListRuns'];
const WRITES = ['Start', 'Stop', 'Restart'];

describe('who may do what', () => {
  describe('the role table (src/auth/roles.ts)', () => {
    it('lets readers list, get and watch, the logs role read log lines, and only operators start, stop and restart', () => {
      expect(Object.fromEntries(REQUIRED_ROLE)).toEqual({
        ListStreams: 'reader',
        GetStatus: 'reader',
        WatchStatus: 'reader',
        Logs: 'logs',
        ListRuns: 'logs',
        Start: 'operator',
        Stop: 'operator',
        Restart: 'operator',
        Enable: 'operator',
        Disable: 'operator',
      });
    });

    it('lists every RPC of the StreamService proto, so no new RPC falls to the default by accident', () => {
      const proto = readFileSync(new URL('../../proto/lit/stream/v1/stream.proto', import.meta.url), 'utf8');
      const rpcs = [...proto.matchAll(/^\s*rpc\s+(\w+)\s*\(/gm)].map((match) => match[1]!);
      expect(rpcs.length).toBeGreaterThan(0);
      expect(rpcs.filter((rpc) => !REQUIRED_ROLE.has(rpc))).toEqual([]);
    });

    it('takes an unknown method to change something: it needs operator', () => {
      for (const method of ['DeleteStream', 'start', '/lit.stream.v1.StreamService/ListStreams', '', 'constructor', '__proto__', 'toString', 'hasOwnProperty']) {
        expect(requiredRoleOf(method), method).toBe('operator');
      }
    });

    it('has operator include reader and logs, admin include every role, and reader and logs include nothing else', () => {
      const holds = (held: Role) => ROLES.filter((required) => roleSatisfies(held, required));
      expect(holds('reader')).toEqual(['reader']);
      expect(holds('logs')).toEqual(['logs']);
      expect(holds('operator')).toEqual(['reader', 'logs', 'operator']);
      expect(holds('admin')).toEqual(['reader', 'logs', 'operator', 'admin']);
    });
  });

  describe('decide', () => {
    it("a reader of contoso may list, get and watch contoso's streams but not read their logs, nor start, stop or restart them", () => {
      for (const method of READS) expect(policy.decide(dashboard, 'contoso', method), method).toBe('allow');
      for (const method of [...LOG_READS, ...WRITES]) expect(policy.decide(dashboard, 'contoso', method), method).toBe('deny');
    });

    it('the logs role reads log lines, and with reader beside it everything a reader may', () => {
      const viewer = identity('log-viewer');
      for (const method of [...READS, ...LOG_READS]) expect(policy.decide(viewer, 'contoso', method), method).toBe('allow');
      for (const method of LOG_READS) expect(policy.decide(viewer, 'contoso-eu', method), method).toBe('allow');
      for (const method of [...READS, ...WRITES]) expect(policy.decide(viewer, 'contoso-eu', method), method).toBe('deny');
      for (const method of WRITES) expect(policy.decide(viewer, 'contoso', method), method).toBe('deny');
    });

    it('metrics is granted for the whole server, beside team roles, and reads no team by itself', () => {
      const scraper = identity('scraper');
      expect(policy.mayReadServerMetrics(scraper)).toBe(true);
      expect(policy.mayReadServerMetrics(ops)).toBe(true);
      expect(policy.mayReadServerMetrics(dashboard)).toBe(false);
      expect(policy.decide(scraper, 'contoso', 'ListStreams')).toBe('allow');
      expect(policy.decide(scraper, 'contoso', 'Logs')).toBe('deny');
      expect(policy.grantsAnything(scraper)).toBe(true);
      expect(policy.grantsAnything(nobody)).toBe(false);
    });

    it('a reader of contoso sees nothing of contoso-eu', () => {
      for (const method of [...READS, ...WRITES]) expect(policy.decide(dashboard, 'contoso-eu', method), method).toBe('deny');
    });

    it('an operator of contoso may start, stop and restart contoso streams, read them and their logs', () => {
      for (const method of [...READS, ...LOG_READS, ...WRITES]) expect(policy.decide(ingestBot, 'contoso', method), method).toBe('allow');
    });

    it('an operator of contoso cannot touch contoso-eu, where it is only a reader', () => {
      for (const method of READS) expect(policy.decide(ingestBot, 'contoso-eu', method), method).toBe('allow');
      for (const method of WRITES) expect(policy.decide(ingestBot, 'contoso-eu', method), method).toBe('deny');
    });

    it('an operator of contoso has nothing for a team it was not granted, not even a prefix of its own', () => {
      for (const team of ['fabrikam', 'contos', 'contoso-e', 'contoso-eu-2', 'CONTOSO', 'contoso ', '*', '']) {
        for (const method of [...READS, ...WRITES]) expect(policy.decide(ingestBot, team, method), `${team} ${method}`).toBe('deny');
      }
    });

    it('admin may do anything to any team, even methods the table does not know', () => {
      for (const team of ['contoso', 'contoso-eu', 'fabrikam']) {
        for (const method of [...READS, ...WRITES, 'DeleteStream']) expect(policy.decide(ops, team, method), `${team} ${method}`).toBe('allow');
      }
    });

    it('an unknown method is treated as mutating: denied to a reader, allowed to an operator', () => {
      expect(policy.decide(dashboard, 'contoso', 'DeleteStream')).toBe('deny');
      expect(policy.decide(ingestBot, 'contoso', 'DeleteStream')).toBe('allow');
      expect(policy.decide(ingestBot, 'contoso-eu', 'DeleteStream')).toBe('deny');
    });

    it('denies a caller without an identity, and an identity without grants', () => {
      for (const method of [...READS, ...WRITES]) {
        expect(policy.decide(undefined, 'contoso', method)).toBe('deny');
        expect(policy.decide(nobody, 'contoso', method)).toBe('deny');
        expect(policy.decide(identity('stranger'), 'contoso', method)).toBe('deny');
      }
    });

    it('finds nothing on Object.prototype: teams, identities and methods named like its properties', () => {
      for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf']) {
        expect(policy.decide(dashboard, name, 'ListStreams'), `team ${name}`).toBe('deny');
        expect(policy.decide(identity(name), 'contoso', 'ListStreams'), `identity ${name}`).toBe('deny');
        expect(policy.decide(dashboard, 'contoso', name), `method ${name}`).toBe('deny');
      }
    });

    it('allows exactly when a role held for the team includes the role the method needs', () => {
      const teams = ['contoso', 'contoso-eu', 'fabrikam'];
      const names = ['dashboard', 'log-viewer', 'scraper', 'ingest-bot', 'spiffe-bot', 'mail-bot', 'ops', 'nobody', 'stranger'];
      const methods = [...REQUIRED_ROLE.keys(), 'Unknown'];
      fc.assert(
        fc.property(fc.constantFrom(...names), fc.constantFrom(...teams), fc.constantFrom(...methods), (name, team, method) => {
          const held = policy.rolesOf(identity(name), team);
          const expected = held.some((role) => roleSatisfies(role, requiredRoleOf(method))) ? 'allow' : 'deny';
          expect(policy.decide(identity(name), team, method)).toBe(expected);
        }),
      );
    });
  });

  describe('identifyToken', () => {
    it('names the owner of a known token', () => {
      expect(policy.identifyToken('dashboard-token')).toEqual({ name: 'dashboard', via: 'token' });
      expect(policy.identifyToken('ops-token')).toEqual({ name: 'ops', via: 'token' });
    });

    it('names no one for an unknown token, a token of another case or length, or a stored digest', () => {
      for (const token of ['', 'dashboard-token ', 'Dashboard-token', 'dashboard-toke', hashToken('dashboard-token')]) {
        expect(policy.identifyToken(token), token).toBeUndefined();
      }
    });
  });

  describe('identifyCertificate', () => {
    it('names the identity of a SAN DNS name, case-insensitively (RFC 4343)', () => {
      expect(policy.identifyCertificate({ subjectaltname: 'DNS:ingest-bot.contoso.internal' })).toEqual({ name: 'ingest-bot', via: 'certificate' });
      expect(policy.identifyCertificate({ subjectaltname: 'DNS:Ingest-Bot.Contoso.Internal' })?.name).toBe('ingest-bot');
    });

    it('names the identity of a SAN URI or email, compared exactly', () => {
      expect(policy.identifyCertificate({ subjectaltname: 'URI:spiffe://contoso.internal/ns/ingest/sa/bot' })?.name).toBe('spiffe-bot');
      expect(policy.identifyCertificate({ subjectaltname: 'email:bot@contoso.internal' })?.name).toBe('mail-bot');
      expect(policy.identifyCertificate({ subjectaltname: 'URI:spiffe://contoso.internal/ns/ingest/sa/BOT' })).toBeUndefined();
    });

    it('is named by its CN only when it has no SAN DNS name, URI or email', () => {
      expect(policy.identifyCertificate({ subject: { CN: 'legacy-bot' } })?.name).toBe('legacy-bot');
      expect(policy.identifyCertificate({ subject: { CN: 'legacy-bot' }, subjectaltname: 'IP Address:10.0.0.1' })?.name).toBe('legacy-bot');
    });

    it('does not count its CN when it has SAN names, even if none of them is known (RFC 6125 §6.4.4)', () => {
      expect(policy.identifyCertificate({ subject: { CN: 'legacy-bot' }, subjectaltname: 'DNS:unknown.example, IP Address:10.0.0.1' })).toBeUndefined();
      expect(policy.identifyCertificate({ subject: { CN: 'legacy-bot' }, subjectaltname: 'email:someone@elsewhere.example' })).toBeUndefined();
    });

    it('matches each kind of name only against subjects of that kind', () => {
      // A DNS SAN spelled like a known URI or email names no one, and the other way round.
      expect(policy.identifyCertificate({ subjectaltname: 'DNS:SPIFFE://contoso.internal/ns/ingest/sa/bot' })).toBeUndefined();
      expect(policy.identifyCertificate({ subjectaltname: 'DNS:bot@contoso.internal' })).toBeUndefined();
      expect(policy.identifyCertificate({ subjectaltname: 'URI:ingest-bot.contoso.internal' })).toBeUndefined();
      expect(policy.identifyCertificate({ subjectaltname: 'email:ingest-bot.contoso.internal' })).toBeUndefined();
      // Nor is a URI or email subject ever a CN.
      expect(policy.identifyCertificate({ subject: { CN: 'bot@contoso.internal' } })).toBeUndefined();
      // A typed subject matches its kind only.
      const typed = parseAccessPolicy('certificates: [{ name: cn-only, subject: "CN:box.example" }, { name: dns-only, subject: "DNS:svc.example" }]\ngrants: {}\n', 'yaml');
      expect(typed.identifyCertificate({ subject: { CN: 'box.example' } })?.name).toBe('cn-only');
      expect(typed.identifyCertificate({ subjectaltname: 'DNS:box.example' })).toBeUndefined();
      expect(typed.identifyCertificate({ subjectaltname: 'DNS:svc.example' })?.name).toBe('dns-only');
      expect(typed.identifyCertificate({ subject: { CN: 'svc.example' } })).toBeUndefined();
    });

    it('prefers a matching SAN to the CN', () => {
      expect(policy.identifyCertificate({ subject: { CN: 'legacy-bot' }, subjectaltname: 'DNS:ingest-bot.contoso.internal' })?.name).toBe('ingest-bot');
    });

    it('reads no identity from IP address or other SAN types', () => {
      const other = parseAccessPolicy('certificates: [{ name: box, subject: 127.0.0.1 }]\ngrants: {}\n', 'yaml');
      expect(other.identifyCertificate({ subjectaltname: 'IP Address:127.0.0.1' })).toBeUndefined();
      expect(other.identifyCertificate({ subjectaltname: 'othername:127.0.0.1' })).toBeUndefined();
      expect(other.identifyCertificate({ subjectaltname: 'DNS:127.0.0.1' })?.name).toBe('box');
    });

    it('names no one when the names point at two identities, or there are two CNs', () => {
      expect(policy.identifyCertificate({ subjectaltname: 'DNS:ingest-bot.contoso.internal, email:bot@contoso.internal' })).toBeUndefined();
      expect(policy.identifyCertificate({ subject: { CN: ['legacy-bot', 'other'] } })).toBeUndefined();
      // Two names of one identity are fine.
      expect(policy.identifyCertificate({ subjectaltname: 'DNS:ingest-bot.contoso.internal, DNS:INGEST-BOT.contoso.internal' })?.name).toBe('ingest-bot');
    });

    it('cannot be fooled by a SAN value that spells another entry: node quotes such values', () => {
      // A URI whose text is `x, DNS:ingest-bot.contoso.internal` comes JSON-quoted, as one entry.
      expect(policy.identifyCertificate({ subjectaltname: 'URI:"x\\u002c DNS:ingest-bot.contoso.internal"' })).toBeUndefined();
    });

    it('names no one from a subjectaltname it cannot read, whatever the CN says', () => {
      expect(policy.identifyCertificate({ subject: { CN: 'legacy-bot' }, subjectaltname: 'URI:"unterminated' })).toBeUndefined();
      expect(policy.identifyCertificate({ subject: { CN: 'legacy-bot' }, subjectaltname: 'no type here' })).toBeUndefined();
    });

    it('names no one for no certificate, an empty one, or unknown names', () => {
      expect(policy.identifyCertificate(undefined)).toBeUndefined();
      expect(policy.identifyCertificate(null)).toBeUndefined();
      expect(policy.identifyCertificate({})).toBeUndefined();
      expect(policy.identifyCertificate({ subject: null })).toBeUndefined();
      expect(policy.identifyCertificate({ subject: { CN: 'stranger' }, subjectaltname: 'DNS:stranger.example' })).toBeUndefined();
    });

    describe('on certificates made by openssl, as node reads them', () => {
      let certs: TestCertificates;
      beforeAll(async () => {
        certs = await generateTestCertificates({
          clientAltNames: ['DNS:ingest-bot.contoso.internal', 'URI:https://contoso.internal/a,b', 'IP:127.0.0.1'],
        });
      });

      it('identifies the client certificate', () => {
        const peer = new X509Certificate(certs.client.cert).toLegacyObject();
        expect(policy.identifyCertificate(peer)).toEqual({ name: 'ingest-bot', via: 'certificate' });
      });

      it('reads names only: the rogue CA\'s certificate has the same names, so refusing it is the TLS handshake\'s job', () => {
        // See authCerts.spec.ts: a server that trusts only the CA refuses the rogue client.
        const peer = new X509Certificate(certs.rogueClient.cert).toLegacyObject();
        expect(policy.identifyCertificate(peer)?.name).toBe('ingest-bot');
      });

      it("parses node's subjectaltname, quoted values included", () => {
        expect(parseSubjectAltName(new X509Certificate(certs.client.cert).subjectAltName ?? '')).toEqual([
          { type: 'DNS', value: 'ingest-bot.contoso.internal' },
          { type: 'URI', value: 'https://contoso.internal/a,b' },
          { type: 'IP Address', value: '127.0.0.1' },
        ]);
      });
    });
  });
});
