import { existsSync } from 'node:fs';
import { readlink, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { credentials, Metadata, type ServiceError, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActionStatus, ActiveState, StreamServiceClient, type WatchStatusResponse } from '../../gen/lit/stream/v1/stream.js';
import { waitFor } from '../integration/harness.js';
import { as, TOKENS, type DaemonProcess, daemonArgv, DnsServer, FleetBed, launchDaemon, started, stopDaemon, ZONE } from './fleetBed.js';
import { inNamespace } from './network.js';
import { spawnStreamctl, streamctl, userEnv } from '../support/streamctl.js';

/**
 * The fleet on real hosts: three network namespaces on a bridge, each with its own embedded
 * systemd and its own lit-streamd (mTLS, the agents' access file), and a gateway in front with its
 * own access file. feed-1 declares `bitcoin` and `shared`, feed-2 `ethereum` and `shared`, feed-3
 * `litecoin`. The per-host deadline is 1 s.
 */
let bed: FleetBed;
let gateway: StreamServiceClient;

beforeAll(async () => {
  bed = await FleetBed.start([
    { name: 'feed-1', streams: ['bitcoin', 'shared'] },
    { name: 'feed-2', streams: ['ethereum', 'shared'] },
    { name: 'feed-3', streams: ['litecoin'] },
  ]);
  gateway = bed.gatewayClient();
}, 120_000);

afterAll(async () => {
  await bed?.stop();
}, 60_000);

type Unary<Req, Res> = (request: Req, metadata: Metadata, options: { deadline?: number }, callback: (error: ServiceError | null, response: Res) => void) => unknown;

/** A unary call as `metadata` says (alice's token unless told), or its ServiceError. */
function call<Req, Res>(client: StreamServiceClient, method: Unary<Req, Res>, request: Req, metadata = as('alice'), deadlineMs = 20_000): Promise<Res> {
  return new Promise((resolve, reject) =>
    method.call(client, request, metadata, { deadline: Date.now() + deadlineMs }, (error, response) => (error ? reject(error) : resolve(response))),
  );
}

async function refusal<Req, Res>(client: StreamServiceClient, method: Unary<Req, Res>, request: Req, metadata = as('alice')): Promise<ServiceError> {
  try {
    const response = await call(client, method, request, metadata);
    throw new Error(`expected the call to fail, got ${JSON.stringify(response)}`);
  } catch (error) {
    if ((error as ServiceError).code === undefined) throw error;
    return error as ServiceError;
  }
}

const list = (request: { host?: string; pageSize?: number; pageToken?: string } = {}) =>
  call(gateway, gateway.listStreams, { team: 'contoso', pageSize: 0, pageToken: '', ...request });

const rows = async () => (await list()).streams.map((s) => `${s.name}@${s.host}`);

const EVERY_ROW = ['bitcoin@feed-1', 'ethereum@feed-2', 'litecoin@feed-3', 'shared@feed-1', 'shared@feed-2'];

/** lit-streamctl's environment: alice's token, nothing else of this run's. */
const env = userEnv({ LIT_STREAM_TOKEN: TOKENS.alice });

describe('the fleet, through the gateway', () => {
  it("lists every host's streams as one team, by name then host, each named by the gateway's name for its host", async () => {
    const { streams, hostErrors } = await list();
    expect(streams.map((s) => `${s.name}@${s.host}`)).toEqual(EVERY_ROW);
    expect(hostErrors).toEqual([]);
    expect((await list({ host: 'feed-3' })).streams.map((s) => s.name)).toEqual(['litecoin']);
  });

  it('routes a call without host to the one host that declares the stream, and one with host to that host', async () => {
    const started = await call(gateway, gateway.start, { team: 'contoso', name: 'litecoin' });
    expect(started.stream).toMatchObject({ host: 'feed-3', activeState: ActiveState.ACTIVE_STATE_ACTIVE });
    expect((await bed.host('feed-3').unitState('litecoin')).ActiveState).toBe('active');
    const { status: litecoin, logs } = await call(gateway, gateway.getStatus, { team: 'contoso', name: 'litecoin', logLines: 5 });
    expect(litecoin).toMatchObject({ host: 'feed-3', activeState: ActiveState.ACTIVE_STATE_ACTIVE });
    expect(logs.every((line) => line.host === 'feed-3')).toBe(true);
    await call(gateway, gateway.stop, { team: 'contoso', name: 'litecoin', host: 'feed-3' });
    expect((await bed.host('feed-3').unitState('litecoin')).ActiveState).not.toBe('active');
  });

  it('answers FAILED_PRECONDITION naming both hosts for a stream declared on two, and acts on the one named', async () => {
    const ambiguous = await refusal(gateway, gateway.start, { team: 'contoso', name: 'shared' });
    expect(ambiguous.code).toBe(status.FAILED_PRECONDITION);
    expect(ambiguous.details).toContain('feed-1, feed-2');
    expect((await bed.host('feed-1').unitState('shared')).ActiveState).not.toBe('active');
    await call(gateway, gateway.start, { team: 'contoso', name: 'shared', host: 'feed-2' });
    expect((await bed.host('feed-2').unitState('shared')).ActiveState).toBe('active');
    expect((await bed.host('feed-1').unitState('shared')).ActiveState).not.toBe('active');
    await call(gateway, gateway.stop, { team: 'contoso', name: 'shared', host: 'feed-2' });
  });

  it('shows lit-streamctl the fleet in one table with a HOST column, and acts on the host --host names', async () => {
    const listed = await streamctl(['list', 'contoso', '--addr', bed.gateway.address], env);
    expect(listed.code).toBe(0);
    const [header, ...lines] = listed.stdout.split('\n');
    expect(header).toMatch(/^\s+NAME\s+HOST\s+LOAD\s+ENABLED\s+ACTIVE/);
    expect(lines.filter((line) => /\bfeed-\d\b/.test(line)).map((line) => line.trim().split(/\s+/).slice(0, 2).join('@'))).toEqual(EVERY_ROW);
    const started = await streamctl(['start', 'contoso/shared', '--host', 'feed-1', '--addr', bed.gateway.address], env);
    expect(started.code).toBe(0);
    expect((await bed.host('feed-1').unitState('shared')).ActiveState).toBe('active');
    expect((await streamctl(['stop', 'contoso/shared', '--host', 'feed-1', '--addr', bed.gateway.address], env)).code).toBe(0);
  });

  it('answers NOT_FOUND for a stream no host declares, and for a host not in the fleet', async () => {
    expect((await refusal(gateway, gateway.getStatus, { team: 'contoso', name: 'dogecoin' })).code).toBe(status.NOT_FOUND);
    const stranger = await refusal(gateway, gateway.getStatus, { team: 'contoso', name: 'bitcoin', host: 'feed-9' });
    expect(stranger.code).toBe(status.NOT_FOUND);
    expect(stranger.details).toContain("'feed-9'");
  });
});

/** A unit file of its own that `systemctl enable` can act on: an [Install] section, as a user manager's. */
const ENABLEABLE = '[Service]\nType=exec\nExecStart=/bin/sleep infinity\n[Install]\nWantedBy=default.target\n';

describe('Enable and Disable through the gateway', () => {
  // feed-1 declares `boot`, feed-1 and feed-2 both `twice`: each a unit file of its own with an
  // [Install] section, declared for these specs and gone after them.
  const declaring = { boot: ['feed-1'], twice: ['feed-1', 'feed-2'] } as const;
  const wantsLink = (host: string, stream: string) => join(bed.host(host).sandbox.unitDir, 'default.target.wants', `lit-stream-contoso@${stream}.service`);
  const unitPath = (host: string, stream: string) => join(bed.host(host).sandbox.unitDir, `lit-stream-contoso@${stream}.service`);
  const row = async (stream: string, host: string) => (await list()).streams.find((s) => s.name === stream && s.host === host);

  beforeAll(async () => {
    for (const [stream, hosts] of Object.entries(declaring)) {
      for (const host of hosts) await bed.host(host).sandbox.writeUnit(`lit-stream-contoso@${stream}.service`, ENABLEABLE);
    }
    await Promise.all(['feed-1', 'feed-2'].map((host) => bed.host(host).sandbox.reload()));
    await waitFor(async () => (await rows()).filter((r) => /^(boot|twice)@/.test(r)).length === 3, 15_000, 'boot and twice declared');
  });

  afterAll(async () => {
    for (const [stream, hosts] of Object.entries(declaring)) {
      for (const host of hosts) {
        await rm(wantsLink(host, stream), { force: true });
        await bed.host(host).sandbox.removeUnit(`lit-stream-contoso@${stream}.service`);
      }
    }
    await Promise.all(['feed-1', 'feed-2'].map((host) => bed.host(host).sandbox.reload()));
    await waitFor(async () => (await rows()).join() === EVERY_ROW.join(), 15_000, 'boot and twice gone');
  });

  it("enables the stream on the one host that declares it when no host is named, and shows it enabled in ListStreams, GetStatus and WatchStatus", async () => {
    const watch = gateway.watchStatus({ team: 'contoso', name: 'boot', batchInitial: false }, as('bob'));
    const seen: WatchStatusResponse[] = [];
    watch.on('data', (message: WatchStatusResponse) => seen.push(message));
    watch.on('error', () => undefined);
    try {
      await waitFor(() => seen.some((m) => m.status?.name === 'boot'), 10_000, 'the initial status of boot');
      expect(seen[0]?.status).toMatchObject({ host: 'feed-1', unitFileState: 'disabled' });

      const enabled = await call(gateway, gateway.enable, { team: 'contoso', name: 'boot' });
      expect(enabled).toMatchObject({
        status: ActionStatus.ACTION_STATUS_SUCCESS,
        message: 'Stream enabled.',
        changes: [{ type: 'symlink', path: wantsLink('feed-1', 'boot'), destination: unitPath('feed-1', 'boot') }],
        stream: { name: 'boot', host: 'feed-1', unitFileState: 'enabled' },
      });
      // On feed-1's disk, as systemctl enable leaves it.
      expect(await readlink(wantsLink('feed-1', 'boot'))).toBe(unitPath('feed-1', 'boot'));
      expect((await row('boot', 'feed-1'))?.unitFileState).toBe('enabled');
      const { status: boot } = await call(gateway, gateway.getStatus, { team: 'contoso', name: 'boot' });
      expect(boot).toMatchObject({ host: 'feed-1', unitFileState: 'enabled' });
      await waitFor(() => seen.some((m) => m.status?.host === 'feed-1' && m.status.unitFileState === 'enabled'), 10_000, 'the watch to say boot is enabled');

      const disabled = await call(gateway, gateway.disable, { team: 'contoso', name: 'boot' });
      expect(disabled).toMatchObject({
        status: ActionStatus.ACTION_STATUS_SUCCESS,
        message: 'Stream disabled.',
        changes: [{ type: 'unlink', path: wantsLink('feed-1', 'boot') }],
        stream: { name: 'boot', host: 'feed-1', unitFileState: 'disabled' },
      });
      expect(existsSync(wantsLink('feed-1', 'boot'))).toBe(false);
      expect((await row('boot', 'feed-1'))?.unitFileState).toBe('disabled');
      await waitFor(() => seen.at(-1)?.status?.unitFileState === 'disabled', 10_000, 'the watch to say boot is disabled');
    } finally {
      watch.cancel();
    }
  });

  it('acts for the caller: the agent applies and audits the named caller, and a reader is refused at the gateway', async () => {
    const feed1 = bed.host('feed-1');
    await call(gateway, gateway.enable, { team: 'contoso', name: 'boot', host: 'feed-1' });
    await call(gateway, gateway.disable, { team: 'contoso', name: 'boot', host: 'feed-1' });
    for (const method of ['Enable', 'Disable']) {
      const audited = (line: Record<string, unknown>) => line.msg === 'audit' && line.method === method && line.stream === 'boot';
      await waitFor(() => feed1.agent!.lines.some(audited), 5_000, `the audit line of ${method}`);
      expect(feed1.agent!.lines.find(audited)).toMatchObject({ identity: 'alice', gateway: 'gateway-1', outcome: 'SUCCESS' });
    }
    const reader = await refusal(gateway, gateway.enable, { team: 'contoso', name: 'boot' }, as('bob'));
    expect(reader.code).toBe(status.PERMISSION_DENIED);
    expect(existsSync(wantsLink('feed-1', 'boot'))).toBe(false);
  });

  it('enables and disables (now: started, stopped) on the host named a stream declared on two, and answers FAILED_PRECONDITION naming both without host', async () => {
    for (const method of [gateway.enable, gateway.disable] as const) {
      const ambiguous = await refusal(gateway, method as typeof gateway.enable, { team: 'contoso', name: 'twice' });
      expect(ambiguous.code).toBe(status.FAILED_PRECONDITION);
      expect(ambiguous.details).toContain('feed-1, feed-2');
    }
    expect([existsSync(wantsLink('feed-1', 'twice')), existsSync(wantsLink('feed-2', 'twice'))]).toEqual([false, false]);

    const enabled = await call(gateway, gateway.enable, { team: 'contoso', name: 'twice', host: 'feed-2', now: true });
    expect(enabled).toMatchObject({
      status: ActionStatus.ACTION_STATUS_SUCCESS,
      changes: [{ type: 'symlink', path: wantsLink('feed-2', 'twice') }],
      jobResult: 'done',
      stream: { host: 'feed-2', unitFileState: 'enabled', activeState: ActiveState.ACTIVE_STATE_ACTIVE },
    });
    expect(enabled.logs.every((line) => line.host === 'feed-2')).toBe(true);
    expect([existsSync(wantsLink('feed-1', 'twice')), existsSync(wantsLink('feed-2', 'twice'))]).toEqual([false, true]);
    expect((await bed.host('feed-2').unitState('twice')).ActiveState).toBe('active');
    expect((await bed.host('feed-1').unitState('twice')).ActiveState).not.toBe('active');
    expect([(await row('twice', 'feed-1'))?.unitFileState, (await row('twice', 'feed-2'))?.unitFileState]).toEqual(['disabled', 'enabled']);

    const disabled = await call(gateway, gateway.disable, { team: 'contoso', name: 'twice', host: 'feed-2', now: true });
    expect(disabled).toMatchObject({
      status: ActionStatus.ACTION_STATUS_SUCCESS,
      changes: [{ type: 'unlink', path: wantsLink('feed-2', 'twice') }],
      jobResult: 'done',
      stream: { host: 'feed-2', unitFileState: 'disabled' },
    });
    expect(existsSync(wantsLink('feed-2', 'twice'))).toBe(false);
    expect((await bed.host('feed-2').unitState('twice')).ActiveState).not.toBe('active');
    // ListRuns is routed as they are: the run the Enable started, on the host named.
    expect((await refusal(gateway, gateway.listRuns, { team: 'contoso', name: 'twice', limit: 5 })).code).toBe(status.FAILED_PRECONDITION);
    const { runs } = await call(gateway, gateway.listRuns, { team: 'contoso', name: 'twice', limit: 5, host: 'feed-2' });
    expect(runs.map((run) => run.host)).toEqual(['feed-2']);
  });

  it("answers NOT_FOUND for a stream no host declares or a host not in the fleet, and relays a host's refusal with its code, the host named", async () => {
    expect((await refusal(gateway, gateway.enable, { team: 'contoso', name: 'dogecoin' })).code).toBe(status.NOT_FOUND);
    const stranger = await refusal(gateway, gateway.disable, { team: 'contoso', name: 'boot', host: 'feed-9' });
    expect(stranger.code).toBe(status.NOT_FOUND);
    expect(stranger.details).toContain("'feed-9'");
    // feed-3's litecoin is declared by a symlink in the configuration directory: feed-3 refuses it.
    const refused = await refusal(gateway, gateway.enable, { team: 'contoso', name: 'litecoin' });
    expect(refused.code).toBe(status.FAILED_PRECONDITION);
    expect(refused.details).toMatch(/^host 'feed-3': stream 'litecoin' of team 'contoso' cannot be enabled/);
  });
});

describe('one host killed (SIGKILL)', () => {
  it('gives partial answers naming it in host_errors, UNAVAILABLE for what only it may have, then all again once it is back', async () => {
    const feed2 = bed.host('feed-2');
    feed2.agent!.child.kill('SIGKILL');
    await feed2.agent!.exited;
    const partial = await list();
    expect(partial.streams.map((s) => `${s.name}@${s.host}`)).toEqual(['bitcoin@feed-1', 'litecoin@feed-3', 'shared@feed-1']);
    expect(partial.hostErrors).toEqual([expect.objectContaining({ host: 'feed-2', code: status.UNAVAILABLE })]);
    const maybe = await refusal(gateway, gateway.getStatus, { team: 'contoso', name: 'ethereum' });
    expect(maybe.code).toBe(status.UNAVAILABLE);
    expect(maybe.details).toContain('feed-2');
    for (const method of [gateway.enable, gateway.disable] as const) {
      const unsure = await refusal(gateway, method as typeof gateway.enable, { team: 'contoso', name: 'ethereum' });
      expect(unsure.code).toBe(status.UNAVAILABLE);
      expect(unsure.details).toContain('feed-2');
    }
    // `shared` is declared on feed-1 among the hosts that answer: it goes there.
    expect((await call(gateway, gateway.getStatus, { team: 'contoso', name: 'shared' })).status?.host).toBe('feed-1');
    // lit-streamctl lists what answered and names what did not: 0 with a warning; 69 when nothing answered.
    const partly = await streamctl(['list', 'contoso', '--addr', bed.gateway.address], env);
    expect(partly.code).toBe(0);
    expect(partly.stderr).toMatch(/warning: 1 host did not answer[\s\S]*feed-2: UNAVAILABLE/);
    expect(partly.stdout).toContain('3 streams listed.');
    expect((await streamctl(['list', 'contoso', '--host', 'feed-2', '--addr', bed.gateway.address], env)).code).toBe(69);

    await feed2.startAgent();
    await waitFor(async () => (await list()).hostErrors.length === 0, 15_000, 'feed-2 to answer again');
    expect(await rows()).toEqual(EVERY_ROW);
    expect((await call(gateway, gateway.getStatus, { team: 'contoso', name: 'ethereum' })).status?.host).toBe('feed-2');
  });
});

describe('one host frozen (SIGSTOP)', () => {
  it('holds the per-host deadline: the others answer within it, the frozen one is a host error', async () => {
    const feed3 = bed.host('feed-3');
    feed3.agent!.child.kill('SIGSTOP');
    try {
      const asked = Date.now();
      const partial = await list();
      const took = Date.now() - asked;
      expect(partial.streams.map((s) => `${s.name}@${s.host}`)).toEqual(['bitcoin@feed-1', 'ethereum@feed-2', 'shared@feed-1', 'shared@feed-2']);
      expect(partial.hostErrors).toEqual([expect.objectContaining({ host: 'feed-3', code: status.DEADLINE_EXCEEDED })]);
      // The per-host deadline is 1 s; the call ends with it, not with the caller's 20 s.
      expect(took).toBeGreaterThanOrEqual(900);
      expect(took).toBeLessThan(5_000);
      // A stream only the frozen host may have: UNAVAILABLE within the deadline, not a hang.
      const maybe = await refusal(gateway, gateway.getStatus, { team: 'contoso', name: 'litecoin' });
      expect([status.UNAVAILABLE, status.DEADLINE_EXCEEDED]).toContain(maybe.code);
      expect(maybe.details).toContain('feed-3');
    } finally {
      feed3.agent!.child.kill('SIGCONT');
    }
    await waitFor(async () => (await list()).hostErrors.length === 0, 15_000, 'feed-3 to answer again');
  });
});

describe('a watch through the gateway across a host restart', () => {
  it("sends a host_error when the host goes, never its stale state as current, and the host's fresh statuses when it is back", async () => {
    const feed1 = bed.host('feed-1');
    await call(gateway, gateway.start, { team: 'contoso', name: 'bitcoin' });
    const watch = gateway.watchStatus({ team: 'contoso', name: '', batchInitial: true }, as('bob'));
    // lit-streamctl watch on a pipe, beside it: one line per event.
    const watching = spawnStreamctl(['watch', 'contoso', '--addr', bed.gateway.address], env);
    const messages: WatchStatusResponse[] = [];
    watch.on('data', (message: WatchStatusResponse) => messages.push(message));
    watch.on('error', () => undefined);
    try {
      await waitFor(() => messages.some((m) => m.initialComplete), 15_000, 'the snapshot');
      const snapshot = messages.flatMap((m) => m.statuses);
      expect(snapshot.map((s) => `${s.name}@${s.host}`)).toEqual(EVERY_ROW);
      // The Start's own change may reach the watch just after the snapshot: as a CHANGED then.
      const bitcoinNow = () => [...messages.flatMap((m) => m.statuses), ...messages.flatMap((m) => (m.status ? [m.status] : []))].filter((s) => s.name === 'bitcoin').at(-1);
      await waitFor(() => bitcoinNow()?.activeState === ActiveState.ACTIVE_STATE_ACTIVE, 10_000, 'bitcoin active in the watch');

      feed1.agent!.child.kill('SIGKILL');
      await waitFor(() => messages.some((m) => m.hostError?.host === 'feed-1'), 15_000, 'the host_error of feed-1');
      const lostAt = messages.findIndex((m) => m.hostError?.host === 'feed-1');
      expect(messages[lostAt]?.hostError?.code).toBe(status.UNAVAILABLE);
      await waitFor(() => watching.lines.some((line) => line.startsWith('host-lost feed-1 UNAVAILABLE')), 10_000, 'lit-streamctl watch to say feed-1 is lost');
      // While it is gone, systemd on feed-1 stops bitcoin: only systemd knows.
      await feed1.sandbox.withManager((manager) => manager.StopUnit('lit-stream-contoso@bitcoin.service', 'replace'));
      await waitFor(async () => (await feed1.unitState('bitcoin')).ActiveState !== 'active', 10_000, 'bitcoin to stop on feed-1');
      expect((await list()).streams.some((s) => s.host === 'feed-1')).toBe(false);

      await feed1.startAgent();
      await waitFor(
        () => messages.slice(lostAt).some((m) => m.status?.name === 'bitcoin' && m.status.host === 'feed-1'),
        20_000,
        "feed-1's statuses again",
      );
      const after = messages.slice(lostAt + 1).filter((m) => m.status?.host === 'feed-1');
      // Fresh: what systemd says now, not the `active` the watch had before.
      expect(after.find((m) => m.status?.name === 'bitcoin')?.status?.activeState).not.toBe(ActiveState.ACTIVE_STATE_ACTIVE);
      await waitFor(() => messages.slice(lostAt).some((m) => m.status?.name === 'shared' && m.status.host === 'feed-1'), 10_000, 'shared@feed-1 again');
    } finally {
      watch.cancel();
      watching.child.kill('SIGINT');
      await watching.exited;
    }
  });
});

describe('auth across the hop', () => {
  it('refuses a caller at the gateway, before any host hears of it', async () => {
    const agentLines = () => bed.hosts.reduce((count, host) => count + host.agent!.lines.filter((line) => line.msg === 'rpc' && line.method === 'Stop').length, 0);
    const before = agentLines();
    expect((await refusal(gateway, gateway.stop, { team: 'contoso', name: 'bitcoin' }, as('carol'))).code).toBe(status.PERMISSION_DENIED);
    expect((await refusal(gateway, gateway.stop, { team: 'contoso', name: 'bitcoin' }, as('bob'))).code).toBe(status.PERMISSION_DENIED);
    expect((await refusal(gateway, gateway.getStatus, { team: 'contoso', name: 'bitcoin' }, new Metadata())).code).toBe(status.UNAUTHENTICATED);
    expect(agentLines()).toBe(before);
  });

  it("has the agent apply the named caller's rules and audit both identities", async () => {
    await call(gateway, gateway.stop, { team: 'contoso', name: 'ethereum' }, as('alice'));
    const feed2 = bed.host('feed-2');
    await waitFor(() => feed2.agent!.lines.some((line) => line.msg === 'audit' && line.method === 'Stop' && line.stream === 'ethereum'), 5_000, 'the audit line');
    expect(feed2.agent!.lines.find((line) => line.msg === 'audit' && line.method === 'Stop' && line.stream === 'ethereum')).toMatchObject({
      identity: 'alice',
      gateway: 'gateway-1',
      outcome: 'SUCCESS',
    });
  });

  it('has an agent refuse an identity that is not the gateway sending lit-stream-on-behalf-of, and audit it', async () => {
    const feed1 = bed.host('feed-1');
    const direct = bed.agentClient(feed1);
    // mallory may operate contoso herself, but not pass for alice.
    const forged = await refusal(direct, direct.stop, { team: 'contoso', name: 'bitcoin' }, as('mallory', 'alice'));
    expect(forged.code).toBe(status.PERMISSION_DENIED);
    expect(forged.details).toContain("mallory may not send 'lit-stream-on-behalf-of'");
    const refusedLine = (line: Record<string, unknown>) => line.msg === 'audit' && line.identity === 'mallory' && line.onBehalfOf === 'alice' && line.outcome === 'REFUSED';
    // The agent writes its log asynchronously: wait for the line, do not assume it is there yet.
    await waitFor(() => feed1.agent!.lines.some(refusedLine), 5_000, "the agent's audit line of the refusal");
    expect((await call(direct, direct.getStatus, { team: 'contoso', name: 'bitcoin' }, as('mallory'))).status?.host).toBe('agent-of-feed-1');
  });

  it("has an agent refuse the gateway's own certificate without a caller named (mTLS identity, no role of its own)", async () => {
    const feed1 = bed.host('feed-1');
    const asGateway = bed.agentClient(feed1, 'gateway');
    const bare = await refusal(asGateway, asGateway.getStatus, { team: 'contoso', name: 'bitcoin' }, new Metadata());
    expect(bare.code).toBe(status.PERMISSION_DENIED);
    expect(bare.details).toContain('gateway-1 holds the gateway role');
  });
});

describe('DNS discovery', () => {
  it('follows the hosts an SRV record lists as they are added and removed, and keeps the last ones when the resolver fails', async () => {
    const [dnsNamespace, gatewayNamespace] = [await bed.addNamespace('dns'), await bed.addNamespace('gw')];
    const dns = new DnsServer(dnsNamespace);
    // The gateway finds hosts through the system resolver, as Prometheus does: its own, in its
    // namespace (ip netns exec mounts /etc/netns/NAME/resolv.conf over /etc/resolv.conf).
    await bed.network.setResolver(gatewayNamespace, dns.address);
    const fleetFile = join(bed.files.dir, 'discovered.yaml');
    await writeFile(fleetFile, `discover:\n  - srv: _lit-stream._tcp.${ZONE}\n    interval: 300ms\ndeadline: 1s\ntls: { ca: ca.pem, cert: gateway.pem, key: gateway.key }\n`);
    const socket = join(bed.files.dir, 'gateway.sock');
    let discovering: DaemonProcess | undefined;
    try {
      await dns.serve([bed.host('feed-1'), bed.host('feed-2')]);
      discovering = launchDaemon(
        inNamespace(gatewayNamespace, daemonArgv(['--fleet', fleetFile, '--listen', `unix:${socket}`, '--access-file', bed.files.gatewayAccess]), { etc: true }),
      );
      const startup = await started(discovering, 'the discovering gateway');
      expect(startup.hosts).toEqual(['feed-1', 'feed-2']);
      const client = new StreamServiceClient(`unix:${socket}`, credentials.createInsecure());
      const listed = async () => {
        const page = await call(client, client.listStreams, { team: 'contoso', pageSize: 0, pageToken: '' });
        return { rows: page.streams.map((s) => `${s.name}@${s.host}`), hosts: page.hostErrors.map((e) => e.host) };
      };
      try {
        expect(await listed()).toEqual({ rows: ['bitcoin@feed-1', 'ethereum@feed-2', 'shared@feed-1', 'shared@feed-2'], hosts: [] });

        await dns.serve([bed.host('feed-1'), bed.host('feed-2'), bed.host('feed-3')]);
        await waitFor(async () => (await listed()).rows.includes('litecoin@feed-3'), 15_000, 'feed-3 to join');

        // Leaving the zone is leaving the fleet: no rows, and no host error either.
        await dns.serve([bed.host('feed-1'), bed.host('feed-3')]);
        await waitFor(async () => !(await listed()).rows.some((row) => row.endsWith('@feed-2')), 15_000, 'feed-2 to leave');
        await waitFor(async () => (await listed()).hosts.length === 0, 15_000, 'no host errors');
        expect((await listed()).rows).toEqual(['bitcoin@feed-1', 'litecoin@feed-3', 'shared@feed-1']);

        // The resolver fails: the last hosts stay, and the answer says discovery failed.
        await dns.stop();
        await waitFor(async () => (await listed()).hosts.includes(`srv:_lit-stream._tcp.${ZONE}`), 15_000, 'the discovery error');
        expect((await listed()).rows).toEqual(['bitcoin@feed-1', 'litecoin@feed-3', 'shared@feed-1']);
        const said = (line: Record<string, unknown>) => line.msg === 'fleet discovery failed: keeping its last hosts' && line.discover === `srv:_lit-stream._tcp.${ZONE}`;
        await waitFor(() => discovering!.lines.some(said), 5_000, "the gateway's log line of the failed discovery");
      } finally {
        client.close();
      }
    } finally {
      await stopDaemon(discovering);
      await dns.stop();
    }
  }, 120_000);
});

describe('the test bed', () => {
  it('leaves no namespace, link, process, cgroup or file behind', async () => {
    const cgroups = bed.hosts.flatMap((host) => host.sandbox.cgroups);
    const roots = bed.hosts.map((host) => host.sandbox.root);
    const pids = bed.hosts.flatMap((host) => [host.agent?.child.pid, host.sandbox.pid]).filter((pid): pid is number => pid !== undefined && pid > 0);
    const { network, files } = bed;
    expect(await network.leftovers()).not.toEqual([]);
    await bed.stop();
    expect(await network.leftovers()).toEqual([]);
    for (const namespace of network.namespaces) expect(existsSync(namespace.etc)).toBe(false);
    for (const pid of pids) expect(alive(pid)).toBe(false);
    for (const dir of [...cgroups, ...roots, files.dir]) expect(existsSync(dir)).toBe(false);
  }, 60_000);
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
