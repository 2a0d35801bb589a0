import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { credentials, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '../../src/daemon/gateway.js';
import { createLogger } from '../../src/daemon/main.js';
import { HealthCheckResponse_ServingStatus, HealthClient } from '../../gen/grpc/health/v1/health.js';
import { ActionStatus, ActiveState, StreamServiceClient, WatchEventKind, type WatchStatusResponse } from '../../gen/lit/stream/v1/stream.js';
import { type Harness, rpc, rpcError, startHarness, waitFor } from './harness.js';

/**
 * The gateway over two agents on loopback (each a real lit-streamd on its own embedded systemd):
 * feed-1 declares `bitcoin` and `shared`, feed-2 `ethereum` and `shared`. The agents call
 * themselves something else (--host-name): answers carry the gateway's names. The multi-host
 * suite (test/fleet) runs the same on hosts in network namespaces, with mTLS, DNS and faults.
 */
const TEMPLATE = { 'lit-stream-contoso@.service': '[Service]\nType=exec\nExecStart=/bin/sleep infinity\n' };
const FEED_1 = { ...TEMPLATE, 'lit-stream-contoso@bitcoin.service': { link: 'lit-stream-contoso@.service' }, 'lit-stream-contoso@shared.service': { link: 'lit-stream-contoso@.service' } };
const FEED_2 = { ...TEMPLATE, 'lit-stream-contoso@ethereum.service': { link: 'lit-stream-contoso@.service' }, 'lit-stream-contoso@shared.service': { link: 'lit-stream-contoso@.service' } };

let feed1: Harness;
let feed2: Harness;
let gateway: RunningGateway;
let client: StreamServiceClient;
let dir: string;
let fleetFile: string;
const gatewayLogs: Record<string, unknown>[] = [];

beforeAll(async () => {
  // feed-1 reads usage in the background only once an hour: a reading there ages until GetStatus
  // asks for a fresh one.
  [feed1, feed2] = await Promise.all([
    startHarness(FEED_1, { hostName: 'agent-one', usageSampling: { intervalMs: 3_600_000, maxShare: 0.05 } }),
    startHarness(FEED_2, { hostName: 'agent-two' }),
  ]);
  dir = await mkdtemp(join(tmpdir(), 'lit-stream-gateway-'));
  fleetFile = join(dir, 'fleet.yaml');
  await writeFile(fleetFile, bothHosts());
  const sink = new Writable({
    write: (chunk, _encoding, done) => {
      for (const line of String(chunk).split('\n')) if (line) gatewayLogs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const log = createLogger('info', sink);
  gateway = await startGateway({ listen: '127.0.0.1:0', log, fleetFile });
  client = new StreamServiceClient(gateway.address, credentials.createInsecure());
});

afterAll(async () => {
  client?.close();
  await gateway?.shutdown(2_000);
  await Promise.all([feed1?.stop(), feed2?.stop()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

const bothHosts = () => `hosts:\n  - name: feed-1\n    address: ${feed1.address}\n  - name: feed-2\n    address: ${feed2.address}\ndeadline: 1s\n`;

const list = (request: { pageSize?: number; pageToken?: string; host?: string } = {}) =>
  rpc(client, client.listStreams, { team: 'contoso', pageSize: 0, pageToken: '', ...request });

describe('a fleet gateway over two agents', () => {
  it("lists every host's streams by name then host, each named as the fleet file names its host", async () => {
    const { streams, hostErrors } = await list();
    expect(streams.map((s) => `${s.name}@${s.host}`)).toEqual(['bitcoin@feed-1', 'ethereum@feed-2', 'shared@feed-1', 'shared@feed-2']);
    expect(hostErrors).toEqual([]);
    expect((await list({ host: 'feed-2' })).streams.map((s) => s.name)).toEqual(['ethereum', 'shared']);
  });

  it('pages over the merged list without repeats or gaps', async () => {
    const seen: string[] = [];
    let pageToken = '';
    do {
      const page = await list({ pageSize: 1, pageToken });
      seen.push(...page.streams.map((s) => `${s.name}@${s.host}`));
      pageToken = page.nextPageToken;
    } while (pageToken !== '');
    expect(seen).toEqual(['bitcoin@feed-1', 'ethereum@feed-2', 'shared@feed-1', 'shared@feed-2']);
  });

  it('sends a call without host to the one host that declares the stream, and one with host to that host', async () => {
    const started = await rpc(client, client.start, { team: 'contoso', name: 'ethereum' });
    expect(started.stream).toMatchObject({ host: 'feed-2', activeState: ActiveState.ACTIVE_STATE_ACTIVE });
    expect((await feed2.unitState('lit-stream-contoso@ethereum.service')).ActiveState).toBe('active');
    const { status: shared } = await rpc(client, client.getStatus, { team: 'contoso', name: 'shared', host: 'feed-1', logLines: 0 });
    expect(shared?.host).toBe('feed-1');
    await rpc(client, client.stop, { team: 'contoso', name: 'ethereum' });
    expect((await feed2.unitState('lit-stream-contoso@ethereum.service')).ActiveState).not.toBe('active');
  });

  it('answers FAILED_PRECONDITION naming both hosts for a stream on two, NOT_FOUND for one on none or a host not in the fleet', async () => {
    const ambiguous = await rpcError(client, client.getStatus, { team: 'contoso', name: 'shared' });
    expect(ambiguous.code).toBe(status.FAILED_PRECONDITION);
    expect(ambiguous.details).toContain('feed-1, feed-2');
    expect((await rpcError(client, client.getStatus, { team: 'contoso', name: 'dogecoin' })).code).toBe(status.NOT_FOUND);
    const stranger = await rpcError(client, client.getStatus, { team: 'contoso', name: 'bitcoin', host: 'feed-9' });
    expect(stranger.code).toBe(status.NOT_FOUND);
    expect(stranger.details).toContain("host 'feed-9' is not in the fleet");
  });

  it("relays a host's usage and how old it is, and asks the host for a fresh reading when the caller does", async () => {
    const ageMs = (status: { usageAge?: { seconds: number; nanos: number } } | undefined) =>
      status?.usageAge === undefined ? undefined : status.usageAge.seconds * 1000 + status.usageAge.nanos / 1e6;
    const bitcoin = { team: 'contoso', name: 'bitcoin', logLines: 0 };
    await rpc(client, client.start, { team: 'contoso', name: 'bitcoin' });
    try {
      // The host's own reading, served from its memory, grows old (its next is an hour away).
      await waitFor(async () => (ageMs((await rpc(feed1.client, feed1.client.getStatus, bitcoin)).status) ?? 0) >= 1_500, 10_000, "feed-1's reading to be 1.5 s old");
      const relayed = (await rpc(client, client.getStatus, bitcoin)).status;
      expect(relayed?.usageSource).toBe((await rpc(feed1.client, feed1.client.getStatus, bitcoin)).status?.usageSource);
      expect(ageMs(relayed)).toBeGreaterThanOrEqual(1_500);
      const fresh = (await rpc(client, client.getStatus, { ...bitcoin, freshUsage: true })).status;
      expect(ageMs(fresh)).toBeLessThan(1_000);
    } finally {
      await rpc(client, client.stop, { team: 'contoso', name: 'bitcoin' });
    }
  });

  it('enables and disables a stream on the host that declares it, answered as that host answers', async () => {
    // A stream only feed-2 declares, by a unit file with an [Install] section, for this spec alone.
    const boot = 'lit-stream-contoso@boot.service';
    await feed2.sandbox.writeUnit(boot, '[Service]\nType=exec\nExecStart=/bin/sleep infinity\n[Install]\nWantedBy=default.target\n');
    await feed2.sandbox.reload();
    const stream = { team: 'contoso', name: 'boot' };
    try {
      await waitFor(async () => (await rpc(client, client.getStatus, stream).catch(() => undefined))?.status?.host === 'feed-2', 10_000, 'the gateway to know boot is on feed-2');
      const enabled = await rpc(client, client.enable, stream);
      expect(enabled).toMatchObject({ status: ActionStatus.ACTION_STATUS_SUCCESS, message: 'Stream enabled.', stream: { name: 'boot', host: 'feed-2', unitFileState: 'enabled' } });
      expect(enabled.changes).toEqual([expect.objectContaining({ type: 'symlink', path: expect.stringMatching(/default\.target\.wants\/lit-stream-contoso@boot\.service$/) })]);
      expect((await rpc(feed2.client, feed2.client.getStatus, stream)).status?.unitFileState).toBe('enabled');
      const started = await rpc(client, client.enable, { ...stream, host: 'feed-2', now: true });
      expect(started).toMatchObject({ status: ActionStatus.ACTION_STATUS_SUCCESS, changes: [], jobResult: 'done', stream: { host: 'feed-2', activeState: ActiveState.ACTIVE_STATE_ACTIVE } });
      const stopped = await rpc(client, client.disable, { ...stream, now: true });
      expect(stopped).toMatchObject({ status: ActionStatus.ACTION_STATUS_SUCCESS, message: 'Stream disabled. Stream stopped successfully.', jobResult: 'done', stream: { host: 'feed-2', unitFileState: 'disabled' } });
      expect(stopped.changes).toEqual([expect.objectContaining({ type: 'unlink' })]);
      expect((await feed2.unitState(boot)).ActiveState).toBe('inactive');
      // The host's refusal, with its code and the host named: feed-1 declares bitcoin by a symlink in its configuration directory.
      const refused = await rpcError(client, client.enable, { team: 'contoso', name: 'bitcoin' });
      expect(refused.code).toBe(status.FAILED_PRECONDITION);
      expect(refused.details).toMatch(/^host 'feed-1': /);
      expect((await rpcError(client, client.disable, { ...stream, host: 'feed-9' })).code).toBe(status.NOT_FOUND);
    } finally {
      await feed2.sandbox.removeUnit(boot);
      await feed2.sandbox.reload();
      // The specs after this one see the fleet without it: wait until the gateway does too — its
      // agents' lists, and its own team watch (a new watch's snapshot comes from there).
      await waitFor(async () => !(await list()).streams.some((s) => s.name === 'boot'), 10_000, 'boot to leave the fleet');
      const gone = () => rpc(client, client.getStatus, stream).then(() => false, (error: { code?: number }) => error.code === status.NOT_FOUND);
      await waitFor(gone, 10_000, "boot to leave the gateway's team watch");
    }
  });

  it("relays a host's own error with its code, the host named", async () => {
    const error = await rpcError(client, client.getStatus, { team: 'contoso', name: 'dogecoin', host: 'feed-1' });
    expect(error.code).toBe(status.NOT_FOUND);
    expect(error.details).toMatch(/^host 'feed-1': /);
  });

  it('watches every host through one upstream watch per host and team, each change naming its host', async () => {
    const call = client.watchStatus({ team: 'contoso', name: '', batchInitial: true });
    const messages: WatchStatusResponse[] = [];
    call.on('data', (message: WatchStatusResponse) => messages.push(message));
    call.on('error', () => undefined);
    // Two more watchers of the team: the agents still see one watch each.
    const more = [0, 1].map(() => client.watchStatus({ team: 'contoso', name: '', batchInitial: true }));
    const moreReady = more.map((each) => new Promise<void>((resolve) => each.on('data', (m: WatchStatusResponse) => m.initialComplete && resolve())));
    for (const each of more) each.on('error', () => undefined);
    try {
      await Promise.all(moreReady);
      expect([feed1.server.view.watcherCount, feed2.server.view.watcherCount]).toEqual([1, 1]);
      await waitFor(() => messages.some((m) => m.initialComplete), 10_000, 'the snapshot');
      expect(messages.flatMap((m) => m.statuses).map((s) => `${s.name}@${s.host}`)).toEqual(['bitcoin@feed-1', 'ethereum@feed-2', 'shared@feed-1', 'shared@feed-2']);
      await rpc(feed1.client, feed1.client.start, { team: 'contoso', name: 'shared' });
      await waitFor(
        () => messages.some((m) => m.status?.name === 'shared' && m.status.host === 'feed-1' && m.status.activeState === ActiveState.ACTIVE_STATE_ACTIVE),
        10_000,
        'the change on feed-1',
      );
      expect(messages.some((m) => m.status?.name === 'shared' && m.status.host === 'feed-2')).toBe(false);
    } finally {
      call.cancel();
      for (const each of more) each.cancel();
    }
  });
});

describe("a fleet gateway's fleet file, reloaded (SIGHUP)", () => {
  it('refuses a broken file and keeps the one in force; takes a good one', async () => {
    await writeFile(fleetFile, 'hosts:\n  - name: feed-1\n    address: nowhere\n');
    expect(await gateway.reload()).toEqual({ access: false, fleet: false });
    await waitFor(() => gatewayLogs.some((line) => line.msg === 'fleet file rejected; the previous one stays in force'), 5_000, 'the rejection');
    expect(String(gatewayLogs.find((line) => line.msg === 'fleet file rejected; the previous one stays in force')?.err)).toMatch(/fleet\.yaml:3:\d+: hosts\[0\]\.address: "nowhere" is not HOST:PORT/);
    expect(gateway.membership.hosts.map((agent) => agent.host)).toEqual(['feed-1', 'feed-2']);

    await writeFile(fleetFile, `hosts:\n  - name: feed-1\n    address: ${feed1.address}\n`);
    expect((await gateway.reload()).fleet).toBe(true);
    expect((await list()).streams.map((s) => `${s.name}@${s.host}`)).toEqual(['bitcoin@feed-1', 'shared@feed-1']);
    await writeFile(fleetFile, bothHosts());
    expect((await gateway.reload()).fleet).toBe(true);
    expect((await list()).streams).toHaveLength(4);
  });
});

describe('a fleet gateway whose host leaves the fleet while it does not answer', () => {
  it("tells a watcher that host's streams are REMOVED, as for a host that leaves while it answers", async () => {
    const feed3 = await startHarness({ ...TEMPLATE, 'lit-stream-contoso@litecoin.service': { link: 'lit-stream-contoso@.service' } }, { hostName: 'agent-three' });
    let feed3Stopped: Promise<void> | undefined;
    const stopFeed3 = () => (feed3Stopped ??= feed3.stop());
    const call = client.watchStatus({ team: 'contoso', name: '', batchInitial: true });
    const messages: WatchStatusResponse[] = [];
    call.on('data', (message: WatchStatusResponse) => messages.push(message));
    call.on('error', () => undefined);
    try {
      await writeFile(fleetFile, bothHosts().replace('deadline:', `  - name: feed-3\n    address: ${feed3.address}\ndeadline:`));
      expect((await gateway.reload()).fleet).toBe(true);
      await waitFor(() => messages.some((m) => m.status?.name === 'litecoin' && m.status.host === 'feed-3'), 10_000, "feed-3's stream in the watch");
      await stopFeed3();
      await waitFor(() => messages.some((m) => m.hostError?.host === 'feed-3'), 10_000, 'feed-3 lost');
      // It leaves the fleet (the file, or the zone) while it is down.
      await writeFile(fleetFile, bothHosts());
      expect((await gateway.reload()).fleet).toBe(true);
      await waitFor(
        () => messages.some((m) => m.kind === WatchEventKind.WATCH_EVENT_KIND_REMOVED && m.status?.name === 'litecoin' && m.status.host === 'feed-3'),
        10_000,
        "feed-3's stream REMOVED",
      );
    } finally {
      call.cancel();
      await stopFeed3();
      await writeFile(fleetFile, bothHosts());
      await gateway.reload();
    }
  });
});

describe('a fleet gateway when a host goes away', () => {
  it('answers with the hosts that answer, the others in host_errors; UNAVAILABLE for a stream only they may have; NOT_SERVING once none answers', async () => {
    const health = new HealthClient(gateway.address, credentials.createInsecure());
    const check = () =>
      new Promise<HealthCheckResponse_ServingStatus>((resolve, reject) => health.check({ service: '' }, (error, response) => (error ? reject(error) : resolve(response.status))));
    try {
      await waitFor(async () => (await check()) === HealthCheckResponse_ServingStatus.SERVING, 10_000, 'the gateway SERVING');
      await feed2.stop();
      const { streams, hostErrors } = await list();
      expect(streams.map((s) => `${s.name}@${s.host}`)).toEqual(['bitcoin@feed-1', 'shared@feed-1']);
      expect(hostErrors).toEqual([expect.objectContaining({ host: 'feed-2', code: status.UNAVAILABLE })]);
      const maybe = await rpcError(client, client.getStatus, { team: 'contoso', name: 'ethereum' });
      expect(maybe.code).toBe(status.UNAVAILABLE);
      expect(maybe.details).toContain('feed-2');
      // The one host that declares `shared` among those that answered.
      expect((await rpc(client, client.getStatus, { team: 'contoso', name: 'shared' })).status?.host).toBe('feed-1');
      expect(await check()).toBe(HealthCheckResponse_ServingStatus.SERVING);
      await feed1.stop();
      await waitFor(async () => (await check()) === HealthCheckResponse_ServingStatus.NOT_SERVING, 10_000, 'the gateway NOT_SERVING');
    } finally {
      health.close();
    }
  });
});
