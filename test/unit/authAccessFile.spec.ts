import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccessFileError, formatOfPath, loadAccessFile, parseAccessPolicy, type AccessFileFormat } from '../../src/auth/accessFile.js';
import type { AccessPolicy, Identity } from '../../src/auth/policy.js';
import { hashToken } from '../../src/auth/tokens.js';

const DASHBOARD_SHA256 = hashToken('test'); // 9f86d081…, the digest in the example

/** The example of issue #3, as an operator would write it. */
const EXAMPLE_YAML = `\
tokens:            # bearer tokens, stored only as SHA-256 hex of the token
  - name: dashboard            # the identity
    sha256: ${DASHBOARD_SHA256}
certificates:      # mTLS identities: a client certificate's subject (SAN DNS/URI/email or CN)
  - name: ingest-bot
    subject: ingest-bot.contoso.internal
grants:            # identity -> team -> role
  dashboard: { contoso: reader }
  ingest-bot: { contoso: operator, contoso-eu: reader }
  ops: admin        # admin = every team, every RPC
`;

const EXAMPLE_JSON = JSON.stringify(
  {
    tokens: [{ name: 'dashboard', sha256: DASHBOARD_SHA256 }],
    certificates: [{ name: 'ingest-bot', subject: 'ingest-bot.contoso.internal' }],
    grants: { dashboard: { contoso: 'reader' }, 'ingest-bot': { contoso: 'operator', 'contoso-eu': 'reader' }, ops: 'admin' },
  },
  null,
  2,
);

const dashboard: Identity = { name: 'dashboard', via: 'token' };
const ingestBot: Identity = { name: 'ingest-bot', via: 'certificate' };
const ops: Identity = { name: 'ops', via: 'token' };

/** What the example grants, as (identity, team, method) → decision. */
function expectTheExamplesGrants(policy: AccessPolicy): void {
  expect(policy.identifyToken('test')).toEqual(dashboard);
  expect(policy.identifyCertificate({ subjectaltname: 'DNS:ingest-bot.contoso.internal' })).toEqual(ingestBot);
  expect(policy.decide(dashboard, 'contoso', 'ListStreams')).toBe('allow');
  expect(policy.decide(dashboard, 'contoso', 'Stop')).toBe('deny');
  expect(policy.decide(ingestBot, 'contoso', 'Restart')).toBe('allow');
  expect(policy.decide(ingestBot, 'contoso-eu', 'GetStatus')).toBe('allow');
  expect(policy.decide(ingestBot, 'contoso-eu', 'Start')).toBe('deny');
  expect(policy.decide(ops, 'fabrikam', 'Stop')).toBe('allow');
}

/** The AccessFileError that parsing `text` throws. */
function rejection(text: string, format: AccessFileFormat): AccessFileError {
  try {
    parseAccessPolicy(text, format, `access.${format}`);
  } catch (error) {
    expect(error).toBeInstanceOf(AccessFileError);
    return error as AccessFileError;
  }
  throw new Error('expected an AccessFileError, but the access file was accepted');
}

const yaml = (...lines: string[]) => `${lines.join('\n')}\n`;

describe('the access file', () => {
  describe('the example of issue #3', () => {
    it('reads as YAML into a policy that grants what it says', () => {
      expectTheExamplesGrants(parseAccessPolicy(EXAMPLE_YAML, 'yaml'));
    });

    it('reads as JSON into the same policy', () => {
      expectTheExamplesGrants(parseAccessPolicy(EXAMPLE_JSON, 'json'));
    });
  });

  describe('loadAccessFile', () => {
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'lit-stream-access-'));
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it.each([
      ['access.yaml', EXAMPLE_YAML],
      ['access.YML', EXAMPLE_YAML],
      ['access.json', EXAMPLE_JSON],
      ['access', EXAMPLE_JSON],
    ])('reads %s (YAML for .yaml/.yml, JSON otherwise)', async (file, text) => {
      await writeFile(join(dir, file), text);
      expectTheExamplesGrants(await loadAccessFile(join(dir, file)));
    });

    it('says which file it cannot read, and why', async () => {
      const missing = join(dir, 'missing.yaml');
      await expect(loadAccessFile(missing)).rejects.toThrow(new RegExp(`^${missing}: cannot be read: ENOENT`));
    });

    it('names the file and the line at fault', async () => {
      await writeFile(join(dir, 'broken.yml'), yaml('grants:', '  dashboard: { contoso: raeder }'));
      await expect(loadAccessFile(join(dir, 'broken.yml'))).rejects.toThrow(
        `${join(dir, 'broken.yml')}:2:25: grants.dashboard.contoso: unknown role "raeder": use reader, logs or operator`,
      );
    });

    it('picks the format by the extension, case-insensitively', () => {
      expect(formatOfPath('/etc/lit-stream/access.yaml')).toBe('yaml');
      expect(formatOfPath('access.Yml')).toBe('yaml');
      expect(formatOfPath('access.json')).toBe('json');
      expect(formatOfPath('access.yaml.bak')).toBe('json');
    });
  });

  describe('what it accepts', () => {
    it('needs only grants: a file of grants: {} lets nobody do anything', () => {
      const policy = parseAccessPolicy('grants: {}\n', 'yaml');
      expect(policy.decide(ops, 'contoso', 'ListStreams')).toBe('deny');
    });

    it('reads an empty list or mapping (every entry commented out) as empty', () => {
      const policy = parseAccessPolicy(yaml('tokens:', '#  - name: dashboard', 'certificates:', 'grants:', '#  ops: admin'), 'yaml');
      expect(policy.identifyToken('test')).toBeUndefined();
      expect(policy.decide(ops, 'contoso', 'ListStreams')).toBe('deny');
    });

    it('reads every YAML scalar as text: a digest of digits stays a digest, a team named "no" stays "no"', () => {
      const digits = '1'.repeat(64); // the core schema would read this as the number 1.1e63
      const policy = parseAccessPolicy(
        yaml('tokens:', `  - {name: dashboard, sha256: ${digits}}`, 'grants:', '  dashboard: { no: reader, 0123: operator }'),
        'yaml',
      );
      expect(policy.rolesOf(dashboard, 'no')).toEqual(['reader']);
      expect(policy.rolesOf(dashboard, '0123')).toEqual(['operator']);
      expect(policy.rolesOf(dashboard, '123')).toEqual([]);
    });

    it('accepts a digest in upper case', () => {
      const policy = parseAccessPolicy(yaml('tokens:', `  - {name: dashboard, sha256: ${DASHBOARD_SHA256.toUpperCase()}}`, 'grants: {}'), 'yaml');
      expect(policy.identifyToken('test')).toEqual(dashboard);
    });

    it('lets one identity hold both a token and a certificate', () => {
      const policy = parseAccessPolicy(
        yaml(
          'tokens:',
          `  - {name: ingest-bot, sha256: ${DASHBOARD_SHA256}}`,
          'certificates:',
          '  - {name: ingest-bot, subject: ingest-bot.contoso.internal}',
          'grants:',
          '  ingest-bot: { contoso: operator }',
        ),
        'yaml',
      );
      expect(policy.decide(policy.identifyToken('test'), 'contoso', 'Stop')).toBe('allow');
      expect(policy.decide(policy.identifyCertificate({ subject: { CN: 'ingest-bot.contoso.internal' } }), 'contoso', 'Stop')).toBe('allow');
    });

    it('takes a list of roles for a team, and metrics beside the teams; the single-role form stays valid', () => {
      const policy = parseAccessPolicy(
        yaml('grants:', '  dashboard: { contoso: [reader, logs], fabrikam: reader }', '  ops: [metrics, { contoso: operator }]', '  scraper: metrics'),
        'yaml',
      );
      expect(policy.rolesOf(dashboard, 'contoso')).toEqual(['reader', 'logs']);
      expect(policy.rolesOf(dashboard, 'fabrikam')).toEqual(['reader']);
      expect(policy.decide(dashboard, 'contoso', 'Logs')).toBe('allow');
      expect(policy.decide(dashboard, 'fabrikam', 'Logs')).toBe('deny');
      expect(policy.mayReadServerMetrics(ops)).toBe(true);
      expect(policy.decide(ops, 'contoso', 'Restart')).toBe('allow');
      const scraper = { name: 'scraper', via: 'token' as const };
      expect(policy.mayReadServerMetrics(scraper)).toBe(true);
      expect(policy.rolesOf(scraper, 'contoso')).toEqual([]);
      expect(policy.mayReadServerMetrics(dashboard)).toBe(false);
    });

    it('ignores a byte order mark', () => {
      expectTheExamplesGrants(parseAccessPolicy(`\uFEFF${EXAMPLE_JSON}`, 'json'));
    });
  });

  describe('a broken access file is rejected with the line, column and field at fault', () => {
    const sha = DASHBOARD_SHA256;
    it.each<[string, string, AccessFileFormat, string]>([
      // the structure
      ['an unknown top-level key', yaml('token: []', 'grants: {}'), 'yaml', '1:1: token: unknown key "token": expected tokens, certificates, grants'],
      ['grants left out', yaml('tokens: []'), 'yaml', '1:1: grants is missing'],
      ['an empty file', '', 'yaml', 'the access file is empty'],
      ['a list at the top', yaml('- grants: {}'), 'yaml', '1:1: expected a mapping, got a list'],
      ['tokens as a mapping', yaml('tokens: {dashboard: x}', 'grants: {}'), 'yaml', '1:9: tokens: expected a list, got a mapping'],
      // tokens
      ['an unknown key in a token', yaml('tokens:', '  - name: dashboard', `    sha265: ${sha}`, 'grants: {}'), 'yaml', '3:5: tokens[0].sha265: unknown key "sha265": expected name, sha256'],
      ['a token without sha256', yaml('tokens:', '  - name: dashboard', 'grants: {}'), 'yaml', '2:5: tokens[0]: sha256 is missing'],
      ['a digest one digit short', yaml('tokens:', '  - name: dashboard', `    sha256: ${sha.slice(1)}`, 'grants: {}'), 'yaml', '3:13: tokens[0].sha256: expected the SHA-256 of the token as 64 hex digits, got 63 characters'],
      ['a digest that is not hex', yaml('tokens:', '  - name: dashboard', `    sha256: ${'z'.repeat(64)}`, 'grants: {}'), 'yaml', '3:13: tokens[0].sha256: expected the SHA-256 of the token as 64 hex digits, got characters other than 0-9 and a-f'],
      ['a token in clear', yaml('tokens:', '  - name: dashboard', '    sha256: s3cret', 'grants: {}'), 'yaml', '3:13: tokens[0].sha256: expected the SHA-256 of the token as 64 hex digits, got 6 characters'],
      ['the digest of the empty token', yaml('tokens:', `  - {name: dashboard, sha256: ${hashToken('')}}`, 'grants: {}'), 'yaml', '2:31: tokens[0].sha256: this is the SHA-256 of the empty token'],
      ['two tokens of one name', yaml('tokens:', `  - {name: dashboard, sha256: ${sha}}`, `  - {name: dashboard, sha256: ${hashToken('other')}}`, 'grants: {}'), 'yaml', '3:12: tokens[1].name: name "dashboard" is already used by tokens[0]'],
      ['one token for two identities', yaml('tokens:', `  - {name: dashboard, sha256: ${sha}}`, `  - {name: grafana, sha256: ${sha.toUpperCase()}}`, 'grants: {}'), 'yaml', '3:29: tokens[1].sha256: the same token as tokens[0]'],
      ['an invalid identity name', yaml('tokens:', `  - {name: "dash board", sha256: ${sha}}`, 'grants: {}'), 'yaml', '2:12: tokens[0].name: identity name "dash board" is invalid'],
      // certificates
      ['a certificate without subject', yaml('certificates:', '  - name: ingest-bot', 'grants: {}'), 'yaml', '2:5: certificates[0]: subject is missing'],
      ['two certificates of one name', yaml('certificates:', '  - {name: bot, subject: a.example}', '  - {name: bot, subject: b.example}', 'grants: {}'), 'yaml', '3:12: certificates[1].name: name "bot" is already used by certificates[0]'],
      ['one subject for two identities (DNS names ignore case)', yaml('certificates:', '  - {name: bot, subject: bot.example}', '  - {name: other, subject: BOT.example}', 'grants: {}'), 'yaml', '3:28: certificates[1].subject: subject "BOT.example" names the same DNS as certificates[0]'],
      ['a subject with surrounding spaces', yaml('certificates:', '  - {name: bot, subject: " bot.example"}', 'grants: {}'), 'yaml', '2:26: certificates[0].subject: expected a certificate subject'],
      // grants
      ['an unknown role', yaml('grants:', '  ingest-bot: { contoso: operator, contoso-eu: opertor }'), 'yaml', '2:48: grants.ingest-bot.contoso-eu: unknown role "opertor": use reader, logs or operator'],
      ['an invalid team', yaml('grants:', '  ingest-bot:', '    Contoso: reader'), 'yaml', `3:5: grants.ingest-bot.Contoso: team "Contoso" is invalid`],
      ['a team with "@"', yaml('grants:', '  ingest-bot: { "contoso@x": reader }'), 'yaml', '2:17: grants.ingest-bot["contoso@x"]: team "contoso@x" is invalid'],
      ['an unknown role in a list', yaml('grants:', '  viewer: { contoso: [reader, logz] }'), 'yaml', '2:31: grants.viewer.contoso[1]: unknown role "logz": use reader, logs or operator'],
      ['an empty list of roles', yaml('grants:', '  viewer: { contoso: [] }'), 'yaml', '2:22: grants.viewer.contoso: an empty list grants nothing'],
      ['metrics for one team', yaml('grants:', '  scraper: { contoso: metrics }'), 'yaml', '2:23: grants.scraper.contoso: metrics is granted for the whole server, not per team'],
      ['admin in a list', yaml('grants:', '  ops: [metrics, admin]'), 'yaml', '2:18: grants.ops[1]: admin holds every role and the metrics already'],
      ['two mappings in a list', yaml('grants:', '  scraper: [{ contoso: reader }, { fabrikam: reader }]'), 'yaml', '2:34: grants.scraper[1]: one mapping of teams per identity'],
      ['admin for one team', yaml('grants:', '  ops: { contoso: admin }'), 'yaml', '2:19: grants.ops.contoso: admin is granted for every team, not per team'],
      ['reader for every team', yaml('grants:', '  dashboard: reader'), 'yaml', '2:14: grants.dashboard: reader is held per team: write { <team>: reader }'],
      ['an identity without a grant', yaml('grants:', '  ops:'), 'yaml', '2:7: grants.ops: expected admin, gateway, metrics or a mapping of team to roles (reader, logs, operator), got nothing'],
      ['an invalid identity in grants', yaml('grants:', '  -ops: admin'), 'yaml', '2:3: grants.-ops: identity name "-ops" is invalid'],
      // YAML itself
      ['a YAML syntax error', yaml('grants:', '  dashboard: { contoso: reader', 'tokens: []'), 'yaml', '3:1: invalid YAML'],
      ['a key given twice', yaml('grants:', '  ops: admin', '  ops: { contoso: reader }'), 'yaml', '3:3: invalid YAML: Map keys must be unique (ops)'],
      ['two documents', yaml('grants: {}', '---', 'grants: {}'), 'yaml', '2:1: invalid YAML'],
      ['an alias', yaml('grants:', '  a: &teams { contoso: reader }', '  b: *teams'), 'yaml', '3:6: grants.b: aliases (*teams) are not supported'],
      ['a tag', yaml('grants:', '  ops: !!str admin'), 'yaml', '2:14: grants.ops: tags (tag:yaml.org,2002:str) are not supported'],
      ['a key that is a list', yaml('grants:', '  ? [a, b]', '  : admin'), 'yaml', '2:5: grants: keys must be plain strings'],
      // JSON
      ['a JSON syntax error', '{\n  "grants": {\n    "ops": "admin",\n  }\n}', 'json', '4:3: invalid JSON'],
      ['a JSON key given twice', '{\n  "grants": {\n    "ops": "admin",\n    "ops": {"contoso": "reader"}\n  }\n}', 'json', '4:5: invalid JSON: the key "ops" appears twice in one object'],
      ['a number for a digest', '{\n  "tokens": [{"name": "x", "sha256": 123}],\n  "grants": {}\n}', 'json', '2:38: tokens[0].sha256: expected the SHA-256 of the token as 64 hex digits, got number 123'],
      ['null for a role', '{"grants": {"ops": {"contoso": null}}}', 'json', '1:32: grants.ops.contoso: unknown role nothing'],
      ['a __proto__ identity', '{"grants": {"__proto__": "admin"}}', 'json', '1:13: grants.__proto__: identity name "__proto__" is invalid'],
      ['a __proto__ key at the top', '{"__proto__": {}, "grants": {}}', 'json', '1:2: __proto__: unknown key "__proto__"'],
      ['an empty JSON file', '', 'json', 'invalid JSON'],
    ])('%s', (_, text, format, expected) => {
      const error = rejection(text, format);
      const where = /^\d+:\d+: /.test(expected) ? `access.${format}:` : `access.${format}: `;
      expect(error.message).toContain(`${where}${expected}`);
    });

    it('carries the file, field, line, column and problem apart, for the server to log', () => {
      const error = rejection(yaml('grants:', '  ingest-bot: { contoso: operator, contoso-eu: opertor }'), 'yaml');
      expect(error).toMatchObject({
        name: 'AccessFileError',
        source: 'access.yaml',
        field: 'grants.ingest-bot.contoso-eu',
        line: 2,
        column: 48,
        problem: 'unknown role "opertor": use reader, logs or operator',
      });
    });

    it('quotes a long bad value only in part', () => {
      const error = rejection(yaml('grants:', `  ops: { contoso: ${'x'.repeat(5000)} }`), 'yaml');
      expect(error.message.length).toBeLessThan(200);
    });
  });
});
