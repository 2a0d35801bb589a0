import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ChannelCredentials, credentials, Metadata, type ServiceError, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashToken } from '../../src/auth/index.js';
import { StreamServiceClient, type WatchStatusResponse } from '../../gen/lit/stream/v1/stream.js';
import { generateTestCertificates, type TestCertificates } from '../support/certs.js';
import { type Harness, startHarness } from './harness.js';

/**
 * Who may do what, proven against the real server over TLS and the sandbox systemd: every kind of
 * caller × both teams × every RPC, each with the code it must get, and for every refused action
 * proof from systemd itself that the unit did not change.
 */

const TOKENS = {
  reader: 'reader-token-Zq8', // dashboard: reader of contoso
  logReader: 'log-reader-token-Tb4', // log-viewer: reader and logs of contoso
  operator: 'operator-token-Yk2', // deployer: operator of contoso
  admin: 'admin-token-Wm5', // ops: admin
  euOperator: 'eu-operator-token-Xp7', // eu-operator: operator of contoso-eu
  unknown: 'nobody-knows-this-token-Vn3',
};

const ACCESS_FILE = `
tokens:
  - { name: dashboard, sha256: ${hashToken(TOKENS.reader)} }
  - { name: log-viewer, sha256: ${hashToken(TOKENS.logReader)} }
  - { name: deployer, sha256: ${hashToken(TOKENS.operator)} }
  - { name: ops, sha256: ${hashToken(TOKENS.admin)} }
  - { name: eu-operator, sha256: ${hashToken(TOKENS.euOperator)} }
certificates:
  - { name: ingest-bot, subject: ingest-bot.contoso.internal }
grants:
  dashboard: { contoso: reader }
  log-viewer: { contoso: [reader, logs] }
  deployer: { contoso: operator }
  eu-operator: { contoso-eu: operator }
  ingest-bot: { contoso: operator }
  ops: admin
`;

type Caller = 'nobody' | 'unknown token' | 'reader' | 'reader and logs' | 'operator' | 'admin' | "other team's operator" | 'mTLS certificate' | "unknown CA's certificate";
type Rpc = 'ListStreams' | 'GetStatus' | 'WatchStatus' | 'Logs' | 'ListRuns' | 'Start' | 'Stop' | 'Restart' | 'Enable' | 'Disable';
const CALLERS: Caller[] = ['nobody', 'unknown token', 'reader', 'reader and logs', 'operator', 'admin', "other team's operator", 'mTLS certificate', "unknown CA's certificate"];
const RPCS: Rpc[] = ['ListStreams', 'GetStatus', 'WatchStatus', 'Logs', 'ListRuns', 'Start', 'Restart', 'Stop', 'Enable', 'Disable'];
const TEAMS = { contoso: 'bitcoin', 'contoso-eu': 'secret' } as const;
type Team = keyof typeof TEAMS;
const MUTATING = new Set<Rpc>(['Start', 'Stop', 'Restart', 'Enable', 'Disable']);
/** What reads a stream's log lines: the `logs` role's, which `reader` does not include. */
const LOG_READING = new Set<Rpc>(['Logs', 'ListRuns']);
/**
 * Enable and Disable of these streams get past access control and are refused at their
 * declaration: a symlink in the configuration directory, which systemd's DisableUnitFiles would
 * remove (see enable.spec.ts). Refused before that, they never reach the declaration.
 */
const ALLOWED_BUT_ALIASED = new Set<Rpc>(['Enable', 'Disable']);

/** The code each caller must get: the specification this file checks. */
function expectedCode(caller: Caller, team: Team, rpc: Rpc): status {
  const code = accessCode(caller, team, rpc);
  return code === status.OK && ALLOWED_BUT_ALIASED.has(rpc) ? status.FAILED_PRECONDITION : code;
}

function accessCode(caller: Caller, team: Team, rpc: Rpc): status {
  switch (caller) {
    case 'nobody':
    case 'unknown token':
    case "unknown CA's certificate":
      return status.UNAUTHENTICATED;
    case 'admin':
      return status.OK;
    case 'reader':
      return team === 'contoso' && !MUTATING.has(rpc) && !LOG_READING.has(rpc) ? status.OK : status.PERMISSION_DENIED;
    case 'reader and logs':
      return team === 'contoso' && !MUTATING.has(rpc) ? status.OK : status.PERMISSION_DENIED;
    case 'operator':
    case 'mTLS certificate':
      return team === 'contoso' ? status.OK : status.PERMISSION_DENIED;
    case "other team's operator":
      return team === 'contoso-eu' ? status.OK : status.PERMISSION_DENIED;
  }
}

let h: Harness;
let certs: TestCertificates;
let dir: string;
const clients = new Map<Caller, { client: StreamServiceClient; token?: string }>();

beforeAll(async () => {
  certs = await generateTestCertificates();
  dir = await mkdtemp(join(tmpdir(), 'lit-stream-access-'));
  const file = (name: string, contents: Buffer | string) => writeFile(join(dir, name), contents).then(() => join(dir, name));
  h = await startHarness(undefined, {
    accessFile: await file('access.yaml', ACCESS_FILE),
    tlsCert: await file('server.pem', certs.server.cert),
    tlsKey: await file('server.key', certs.server.key),
    clientCa: await file('ca.pem', certs.ca.cert),
    clientCredentials: credentials.createSsl(certs.ca.cert),
  });
  const tls = (client?: { cert: Buffer; key: Buffer }): ChannelCredentials =>
    credentials.createSsl(certs.ca.cert, client?.key ?? null, client?.cert ?? null);
  const plain = new StreamServiceClient(h.address, tls());
  clients.set('nobody', { client: plain });
  clients.set('unknown token', { client: plain, token: TOKENS.unknown });
  clients.set('reader', { client: plain, token: TOKENS.reader });
  clients.set('reader and logs', { client: plain, token: TOKENS.logReader });
  clients.set('operator', { client: plain, token: TOKENS.operator });
  clients.set('admin', { client: plain, token: TOKENS.admin });
  clients.set("other team's operator", { client: plain, token: TOKENS.euOperator });
  clients.set('mTLS certificate', { client: new StreamServiceClient(h.address, tls(certs.client)) });
  clients.set("unknown CA's certificate", { client: new StreamServiceClient(h.address, tls(certs.rogueClient)) });
});

afterAll(async () => {
  for (const { client } of clients.values()) client.close();
  await h?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function metadataFor(token: string | undefined): Metadata {
  const metadata = new Metadata();
  if (token) metadata.set('authorization', `Bearer ${token}`);
  return metadata;
}

/** Calls `rpc` as `caller` and resolves with the gRPC code it ended with. */
function codeOf(caller: Caller, rpc: Rpc, request: { team: string; name: string }): Promise<status> {
  const { client, token } = clients.get(caller)!;
  const options = { deadline: Date.now() + 20_000 };
  if (rpc === 'WatchStatus') {
    return new Promise((resolve) => {
      const call = client.watchStatus(request, metadataFor(token), options);
      call.on('data', (_: WatchStatusResponse) => {
        call.cancel();
        resolve(status.OK);
      });
      call.on('error', (error: ServiceError) => resolve(error.code === status.CANCELLED ? status.OK : error.code));
    });
  }
  if (rpc === 'Logs') {
    return new Promise((resolve) => {
      const call = client.logs({ ...request, tailLines: 1, follow: false, afterCursor: '' }, metadataFor(token), options);
      call.on('data', () => undefined);
      call.on('error', () => undefined); // the code comes with 'status'
      call.on('status', ({ code }: { code: status }) => resolve(code));
    });
  }
  const method = {
    ListStreams: (cb: (e: ServiceError | null) => void) => client.listStreams({ team: request.team, pageSize: 0, pageToken: '' }, metadataFor(token), options, cb),
    GetStatus: (cb: (e: ServiceError | null) => void) => client.getStatus(request, metadataFor(token), options, cb),
    ListRuns: (cb: (e: ServiceError | null) => void) => client.listRuns(request, metadataFor(token), options, cb),
    Start: (cb: (e: ServiceError | null) => void) => client.start(request, metadataFor(token), options, cb),
    Stop: (cb: (e: ServiceError | null) => void) => client.stop(request, metadataFor(token), options, cb),
    Restart: (cb: (e: ServiceError | null) => void) => client.restart(request, metadataFor(token), options, cb),
    Enable: (cb: (e: ServiceError | null) => void) => client.enable(request, metadataFor(token), options, cb),
    Disable: (cb: (e: ServiceError | null) => void) => client.disable(request, metadataFor(token), options, cb),
  }[rpc];
  return new Promise((resolve) => method((error) => resolve(error ? error.code : status.OK)));
}

/** What systemd itself says of the unit, and its file's state: what a refused action must leave untouched. */
async function fingerprint(team: Team) {
  const unit = `lit-stream-${team}@${TEAMS[team]}.service`;
  const state = await h.unitState(unit);
  const [file] = await h.sandbox.withManager((manager) => manager.ListUnitFilesByPatterns([], [unit]));
  return { active: state.ActiveState, pid: state.MainPID, since: state.ActiveEnterTimestamp?.getTime(), file };
}

const CASES = CALLERS.flatMap((caller) =>
  (Object.keys(TEAMS) as Team[]).flatMap((team) => RPCS.map((rpc) => ({ caller, team, rpc, code: expectedCode(caller, team, rpc) }))),
);

describe(`the access matrix: ${CALLERS.length} callers × ${Object.keys(TEAMS).length} teams × ${RPCS.length} RPCs = ${CASES.length} cases`, () => {
  it.each(CASES.map((c) => [c.caller, c.rpc, c.team, status[c.code], c] as const))(
    '%s calling %s for %s → %s',
    async (_caller, _rpc, _team, _code, { caller, team, rpc, code }) => {
      const before = await fingerprint(team);
      expect(await codeOf(caller, rpc, { team, name: TEAMS[team] })).toBe(code);
      if (MUTATING.has(rpc) && code !== status.OK) expect(await fingerprint(team)).toEqual(before);
    },
  );
});

describe('refusals reveal nothing', () => {
  it("an operator of contoso gets the same PERMISSION_DENIED for contoso-eu's real and made-up streams", async () => {
    expect(await codeOf('operator', 'Start', { team: 'contoso-eu', name: 'secret' })).toBe(status.PERMISSION_DENIED);
    expect(await codeOf('operator', 'Start', { team: 'contoso-eu', name: 'no-such-stream' })).toBe(status.PERMISSION_DENIED);
    expect(await codeOf('operator', 'GetStatus', { team: 'no-such-team', name: 'x' })).toBe(status.PERMISSION_DENIED);
  });
});

describe('log lines need the logs role', () => {
  const statusWithLines = (token: string) =>
    new Promise<{ logs: unknown[]; logsUnavailable: string }>((resolve, reject) =>
      clients.get('reader')!.client.getStatus({ team: 'contoso', name: 'bitcoin', logLines: 5 }, metadataFor(token), { deadline: Date.now() + 20_000 }, (error, response) =>
        error ? reject(error) : resolve(response),
      ),
    );

  it("gives a reader GetStatus's status without the log lines, saying why", async () => {
    const answer = await statusWithLines(TOKENS.reader);
    expect(answer.logs).toEqual([]);
    expect(answer.logsUnavailable).toMatch(/log lines need the logs role for team 'contoso'/);
  });

  it('gives them to a reader who also holds logs, and to an operator', async () => {
    for (const token of [TOKENS.logReader, TOKENS.operator]) {
      const answer = await statusWithLines(token);
      expect(answer.logsUnavailable).toBe('');
      expect(answer.logs.length).toBeGreaterThan(0);
    }
  });
});

describe('health and reflection stay open', () => {
  it('answers Health/Check and reflection without credentials', async () => {
    const { HealthClient } = await import('../../gen/grpc/health/v1/health.js');
    const health = new HealthClient(h.address, credentials.createSsl(certs.ca.cert));
    const serving = await new Promise<number>((resolve, reject) =>
      health.check({ service: '' }, (error, response) => (error ? reject(error) : resolve(response.status))),
    );
    expect(serving).toBe(1);
    health.close();
  });
});

describe('transport', () => {
  it('refuses plaintext clients on a TLS server', async () => {
    const plaintext = new StreamServiceClient(h.address, credentials.createInsecure());
    const code = await new Promise<status>((resolve) =>
      plaintext.getStatus({ team: 'contoso', name: 'bitcoin' }, metadataFor(TOKENS.admin), { deadline: Date.now() + 5_000 }, (error) =>
        resolve(error ? error.code : status.OK),
      ),
    );
    expect(code).toBe(status.UNAVAILABLE);
    plaintext.close();
  });
});

describe('the audit log', () => {
  it('writes one audit line per mutating call with identity, team, stream, method, outcome, code and duration', async () => {
    const before = h.logs.length;
    expect(await codeOf('operator', 'Restart', { team: 'contoso', name: 'bitcoin' })).toBe(status.OK);
    expect(await codeOf('reader', 'Stop', { team: 'contoso', name: 'bitcoin' })).toBe(status.PERMISSION_DENIED);
    expect(await codeOf('reader', 'GetStatus', { team: 'contoso', name: 'bitcoin' })).toBe(status.OK);
    const audit = h.logs.slice(before).filter((line) => line.audit === true);
    expect(audit).toHaveLength(2);
    expect(audit[0]).toMatchObject({ identity: 'deployer', team: 'contoso', stream: 'bitcoin', method: 'Restart', outcome: 'SUCCESS', code: 'OK' });
    expect(audit[1]).toMatchObject({ identity: 'dashboard', method: 'Stop', outcome: 'REFUSED', code: 'PERMISSION_DENIED' });
    expect(typeof audit[0]!.durationMs).toBe('number');
  });

  it('never writes a token to the log', () => {
    const everything = JSON.stringify(h.logs);
    for (const token of Object.values(TOKENS)) expect(everything).not.toContain(token);
    expect(h.logs.length).toBeGreaterThan(100);
  });
});
