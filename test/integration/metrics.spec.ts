import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials, Metadata, status as grpcStatus } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashToken } from '../../src/auth/index.js';
import { UnitNaming } from '../../src/core/unitNaming.js';
import { STREAM_STATES } from '../../src/control/streamMetrics.js';
import { createLogger } from '../../src/daemon/main.js';
import { startServer } from '../../src/daemon/server.js';
import { ActionStatus, UsageSource, type WatchStatusResponse } from '../../gen/lit/stream/v1/stream.js';
import { generateTestCertificates } from '../support/certs.js';
import { promtoolCheckMetrics, startPrometheus } from '../support/prometheus.js';
import { type Harness, rpc, rpcError, startHarness, waitFor } from './harness.js';

/** The value of one series in an exposition text, or undefined when there is no such series. */
function valueOf(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([key, value]) => have[key] === value)) return Number(match[3]);
  }
  return undefined;
}

/** The status line of the answer to a raw HTTP/1.1 request line (no client would send it). */
function statusLineOf(address: string, requestLine: string): Promise<string> {
  const at = address.lastIndexOf(':');
  return new Promise((resolve, reject) => {
    const socket = connect(Number(address.slice(at + 1)), address.slice(0, at), () =>
      socket.end(`${requestLine}\r\nHost: metrics\r\nConnection: close\r\n\r\n`),
    );
    let answer = '';
    socket.setEncoding('utf8');
    socket.setTimeout(10_000, () => socket.destroy(new Error('no answer within 10 s')));
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(answer.split('\r\n')[0] ?? ''));
  });
}

async function scrape(address: string): Promise<string> {
  const response = await fetch(`http://${address}/metrics`, { signal: AbortSignal.timeout(10_000) });
  expect(response.status).toBe(200);
  return response.text();
}

describe('Prometheus metrics on --metrics-listen', () => {
  let h: Harness;
  let metrics: string;
  beforeAll(async () => {
    h = await startHarness(undefined, { metricsListen: '127.0.0.1:0' });
    metrics = h.server.metricsAddress!;
    // The view reads every declared unit whole in the background; restarts are known after that.
    await waitFor(async () => valueOf(await scrape(metrics), 'lit_stream_restarts_total', { stream: 'ethereum' }) !== undefined, 10_000, 'the view warmed up');
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('serves /metrics in the text format, and promtool check metrics finds nothing to complain about', async () => {
    const response = await fetch(`http://${metrics}/metrics`);
    expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await response.text();
    expect(await promtoolCheckMetrics(text)).toEqual({ code: 0, output: '' });
    // Node's default process metrics, unprefixed, as Node dashboards expect them.
    expect(valueOf(text, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(valueOf(text, 'nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
    expect(await fetch(`http://${metrics}/other`).then((r) => r.status)).toBe(404);
    expect(await fetch(`http://${metrics}/metrics`, { method: 'POST' }).then((r) => r.status)).toBe(405);
  });

  it('answers a request target that is no URL with 400, and keeps serving', async () => {
    expect(await statusLineOf(metrics, 'GET //[ HTTP/1.1')).toBe('HTTP/1.1 400 Bad Request');
    expect(valueOf(await scrape(metrics), 'process_resident_memory_bytes')).toBeGreaterThan(0);
  });

  it('has one state series per ActiveState for each declared stream, 1 for the current one, and none for undeclared units', async () => {
    const text = await scrape(metrics);
    const bitcoin = { team: 'contoso', stream: 'bitcoin' };
    expect(STREAM_STATES).toEqual(expect.arrayContaining(['active', 'inactive', 'failed', 'activating', 'deactivating']));
    for (const state of STREAM_STATES) {
      expect(valueOf(text, 'lit_stream_state', { ...bitcoin, state }), state).toBe(state === 'inactive' ? 1 : 0);
    }
    // Declared: every stream of every team (no access file here), masked ones included.
    for (const [team, stream] of [['contoso', 'masked'], ['contoso', 'crash'], ['contoso-eu', 'secret']]) {
      expect(valueOf(text, 'lit_stream_state', { team: team!, stream: stream!, state: 'inactive' }), `${team}/${stream}`).toBe(1);
    }
    // `alias` links to another team's template: not a stream, so no series.
    expect(text).not.toContain('stream="alias"');
    expect(valueOf(text, 'lit_stream_restarts_total', bitcoin)).toBe(0);
    // Never running: nothing measured.
    expect(valueOf(text, 'lit_stream_memory_bytes', bitcoin)).toBeUndefined();
  });

  it('reports a running stream’s memory and tasks with their source, its restarts and the age of its state', async () => {
    const started = await rpc(h.client, h.client.start, { team: 'contoso', name: 'ethereum' });
    expect(started.status).toBe(ActionStatus.ACTION_STATUS_SUCCESS);
    const ethereum = { team: 'contoso', stream: 'ethereum' };
    const text = await scrape(metrics);
    expect(valueOf(text, 'lit_stream_state', { ...ethereum, state: 'active' })).toBe(1);
    const { status } = await rpc(h.client, h.client.getStatus, { team: 'contoso', name: 'ethereum' });
    const source = status!.usageSource === UsageSource.USAGE_SOURCE_SYSTEMD ? 'systemd' : 'procfs';
    expect(valueOf(text, 'lit_stream_memory_bytes', { ...ethereum, source })).toBeGreaterThan(0);
    expect(valueOf(text, 'lit_stream_tasks', { ...ethereum, source })).toBeGreaterThanOrEqual(1);
    expect(valueOf(text, 'lit_stream_restarts_total', ethereum)).toBe(0);
    // systemd's StateChangeTimestamp is when it went active, moments ago.
    const age = valueOf(text, 'lit_stream_state_age_seconds', ethereum)!;
    expect(age).toBeGreaterThanOrEqual(0);
    expect(age).toBeLessThan(30);
    await rpc(h.client, h.client.stop, { team: 'contoso', name: 'ethereum' });
  });

  it('counts calls under go-grpc-middleware’s names and labels, the code as Go names it', async () => {
    const unary = (method: string) => ({ grpc_type: 'unary', grpc_service: 'lit.stream.v1.StreamService', grpc_method: method });
    const before = await scrape(metrics);
    const count = (text: string, name: string, labels: Record<string, string>) => valueOf(text, name, labels) ?? 0;
    await rpc(h.client, h.client.getStatus, { team: 'contoso', name: 'bitcoin' });
    await rpcError(h.client, h.client.getStatus, { team: 'contoso', name: 'nope' });
    const after = await scrape(metrics);
    const delta = (name: string, labels: Record<string, string>) => count(after, name, labels) - count(before, name, labels);
    expect(delta('grpc_server_started_total', unary('GetStatus'))).toBe(2);
    expect(delta('grpc_server_handled_total', { ...unary('GetStatus'), grpc_code: 'OK' })).toBe(1);
    expect(delta('grpc_server_handled_total', { ...unary('GetStatus'), grpc_code: 'NotFound' })).toBe(1);
    expect(delta('grpc_server_msg_received_total', unary('GetStatus'))).toBe(2);
    // As go-grpc-middleware counts it: its unary interceptor calls PostMsgSend(resp, err) for every
    // call, and the Prometheus reporter counts it whatever err is (providers/prometheus/reporter.go).
    expect(delta('grpc_server_msg_sent_total', unary('GetStatus'))).toBe(2);
    expect(delta('grpc_server_handling_seconds_count', unary('GetStatus'))).toBe(2);
    expect(delta('grpc_server_handling_seconds_bucket', { ...unary('GetStatus'), le: '+Inf' })).toBe(2);

    // A stream: one message per stream of the team, then Canceled when the client goes; not timed.
    const watchLabels = { grpc_type: 'server_stream', grpc_service: 'lit.stream.v1.StreamService', grpc_method: 'WatchStatus' };
    const watch = h.client.watchStatus({ team: 'contoso', name: '' });
    watch.on('error', () => undefined);
    let messages = 0;
    watch.on('data', () => messages++);
    await waitFor(() => messages >= 1, 5_000, 'the first watch message');
    watch.cancel();
    await waitFor(async () => valueOf(await scrape(metrics), 'grpc_server_handled_total', { ...watchLabels, grpc_code: 'Canceled' }) === 1, 5_000, 'the watch counted as handled, Canceled');
    const watched = await scrape(metrics);
    expect(valueOf(watched, 'grpc_server_started_total', watchLabels)).toBe(1);
    expect(valueOf(watched, 'grpc_server_msg_received_total', watchLabels)).toBe(1);
    expect(valueOf(watched, 'grpc_server_msg_sent_total', watchLabels)).toBeGreaterThanOrEqual(messages);
    expect(watched).not.toContain('grpc_server_handling_seconds_count{grpc_type="server_stream"');
    expect(await promtoolCheckMetrics(watched)).toEqual({ code: 0, output: '' });
  });

  it('counts journal followers: one per followed stream, however many follow it', async () => {
    expect(valueOf(await scrape(metrics), 'lit_stream_log_followers')).toBe(0);
    const follow = () => {
      const call = h.client.logs({ team: 'contoso', name: 'bitcoin', follow: true, tailLines: 0, afterCursor: '' });
      call.on('error', () => undefined);
      call.on('data', () => undefined);
      return call;
    };
    const [first, second] = [follow(), follow()];
    await waitFor(async () => valueOf(await scrape(metrics), 'lit_stream_log_followers') === 1, 10_000, 'one follower');
    first.cancel();
    second.cancel();
    await waitFor(async () => valueOf(await scrape(metrics), 'lit_stream_log_followers') === 0, 10_000, 'no follower once both left');
  });

  it('counts open watches', async () => {
    expect(valueOf(await scrape(metrics), 'lit_stream_open_watches')).toBe(0);
    const watch = h.client.watchStatus({ team: 'contoso', name: '' });
    watch.on('error', () => undefined);
    await new Promise<WatchStatusResponse>((resolve) => watch.once('data', resolve));
    expect(valueOf(await scrape(metrics), 'lit_stream_open_watches')).toBe(1);
    watch.cancel();
    await waitFor(async () => valueOf(await scrape(metrics), 'lit_stream_open_watches') === 0, 5_000, 'the watch to close');
  });

  it('is scraped by a real Prometheus, which sees a stream go active after a Start', async () => {
    const prometheus = await startPrometheus({ targets: [metrics] });
    try {
      const state = (word: string) => `lit_stream_state{team="contoso",stream="bitcoin",state="${word}"}`;
      const latest = async (expression: string) => (await prometheus.query(expression))[0]?.value[1];
      await waitFor(async () => (await latest(state('inactive'))) === '1', 20_000, `Prometheus to have scraped ${state('inactive')} = 1`);
      const [target] = await prometheus.targets();
      expect(target).toMatchObject({ health: 'up', lastError: '' });
      expect(await latest(state('active'))).toBe('0');

      await rpc(h.client, h.client.start, { team: 'contoso', name: 'bitcoin' });
      await waitFor(async () => (await latest(state('active'))) === '1', 20_000, `Prometheus to see ${state('active')} = 1`);
      expect(await latest(state('inactive'))).toBe('0');
      // What the state series say adds up: exactly one state is current.
      expect(await latest(`sum(lit_stream_state{team="contoso",stream="bitcoin"})`)).toBe('1');
      expect(await latest('lit_stream_systemd_connected')).toBe('1');
    } finally {
      await prometheus.stop();
      await rpc(h.client, h.client.stop, { team: 'contoso', name: 'bitcoin' });
    }
    expect(() => process.kill(prometheus.pid, 0)).toThrow();
  });

  // Last: it takes the bus away, then systemd itself.
  it('says whether systemd is connected and counts reconnects', async () => {
    let text = await scrape(metrics);
    expect(valueOf(text, 'lit_stream_systemd_connected')).toBe(1);
    expect(valueOf(text, 'lit_stream_systemd_reconnects_total')).toBe(0);
    const down = new Promise<void>((resolve) => h.server.link.once('down', () => resolve()));
    // Kill the sandbox's dbus-daemon: our connection drops, dbus.socket re-activates the daemon.
    const [daemon] = await h.sandbox.withManager((manager) => manager.GetUnitProcesses('dbus.service'));
    process.kill(daemon!.pid, 'SIGKILL');
    await down;
    await waitFor(() => h.server.link.isUp, 15_000, 'the link to come back');
    text = await scrape(metrics);
    expect(valueOf(text, 'lit_stream_systemd_connected')).toBe(1);
    expect(valueOf(text, 'lit_stream_systemd_reconnects_total')).toBe(1);

    await h.sandbox.shutdown();
    await waitFor(async () => valueOf(await scrape(metrics), 'lit_stream_systemd_connected') === 0, 10_000, 'connected to drop to 0');
  });
});

describe('where metrics may be served, and to whom', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lit-stream-metrics-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses a non-loopback metrics address without an access file, as for the gRPC port', async () => {
    const server = startServer({
      listen: '127.0.0.1:0',
      metricsListen: '0.0.0.0:0',
      bus: 'unix:path=/nonexistent',
      naming: new UnitNaming(),
      log: createLogger('silent'),
    });
    await expect(server).rejects.toThrow(/refusing to serve 0\.0\.0\.0:0 without an access file/);
  });

  it('with an access file, over TLS: a scrape must authenticate and hold a grant; it sees the teams it may read, and the server-wide series only with metrics', async () => {
    const certs = await generateTestCertificates();
    const file = (name: string, contents: Buffer | string) => writeFile(join(dir, name), contents).then(() => join(dir, name));
    const accessFile = await file(
      'access.json',
      JSON.stringify({
        tokens: [
          { name: 'scraper', sha256: hashToken('scraper-token') },
          { name: 'dashboard', sha256: hashToken('dashboard-token') },
          { name: 'stranger', sha256: hashToken('stranger-token') },
        ],
        certificates: [],
        grants: { scraper: ['metrics', { contoso: 'reader' }], dashboard: { contoso: 'reader' } },
      }),
    );
    const h = await startHarness(undefined, {
      clientCredentials: credentials.createSsl(certs.ca.cert),
      accessFile,
      metricsListen: '0.0.0.0:0',
      tlsCert: await file('server.pem', certs.server.cert),
      tlsKey: await file('server.key', certs.server.key),
    });
    try {
      const port = Number(h.server.metricsAddress!.split(':').pop());
      const get = (headers: Record<string, string>) =>
        new Promise<{ status: number; body: string }>((resolve, reject) => {
          const req = request({ host: '127.0.0.1', port, path: '/metrics', ca: certs.ca.cert, servername: 'localhost', headers, timeout: 10_000 }, (res) => {
            let body = '';
            res.on('data', (chunk: Buffer) => (body += chunk.toString()));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          });
          req.on('error', reject);
          req.end();
        });
      expect((await get({})).status).toBe(401);
      expect((await get({ authorization: 'Bearer wrong' })).status).toBe(401);
      let scraped = { status: 0, body: '' };
      await waitFor(
        async () => valueOf((scraped = await get({ authorization: 'Bearer scraper-token' })).body, 'lit_stream_state', { stream: 'bitcoin', state: 'inactive' }) === 1,
        10_000,
        'the scraper to see contoso/bitcoin',
      );
      expect(scraped.status).toBe(200);
      expect(valueOf(scraped.body, 'lit_stream_systemd_connected')).toBe(1);
      expect(scraped.body).not.toContain('team="contoso-eu"');
      // A known identity the access file grants nothing: refused.
      const stranger = await get({ authorization: 'Bearer stranger-token' });
      expect(stranger.status).toBe(403);
      expect(stranger.body).toMatch(/stranger is granted nothing/);
      // A team's reader without metrics: its team's series, none of the server's own.
      const dashboard = await get({ authorization: 'Bearer dashboard-token' });
      expect(dashboard.status).toBe(200);
      expect(valueOf(dashboard.body, 'lit_stream_state', { stream: 'bitcoin', state: 'inactive' })).toBe(1);
      for (const series of ['lit_stream_systemd_connected', 'grpc_server_handled_total', 'process_cpu_seconds_total', 'lit_stream_log_followers']) {
        expect(dashboard.body).not.toContain(series);
      }

      // Calls the pipeline turns away are counted by reason.
      const call = (name: string, token?: string) =>
        new Promise<number>((resolve) => {
          const metadata = new Metadata();
          if (token) metadata.set('authorization', `Bearer ${token}`);
          h.client.getStatus({ team: name, name: 'bitcoin' }, metadata, { deadline: Date.now() + 10_000 }, (error) => resolve(error?.code ?? 0));
        });
      expect(await call('contoso')).toBe(grpcStatus.UNAUTHENTICATED);
      expect(await call('contoso-eu', 'scraper-token')).toBe(grpcStatus.PERMISSION_DENIED);
      expect(await call('contoso', 'scraper-token')).toBe(grpcStatus.OK);
      const refused = (await get({ authorization: 'Bearer scraper-token' })).body;
      expect(valueOf(refused, 'lit_stream_refused_calls_total', { reason: 'unauthenticated' })).toBe(1);
      expect(valueOf(refused, 'lit_stream_refused_calls_total', { reason: 'permission_denied' })).toBe(1);
    } finally {
      await h.stop();
    }
  });
});
