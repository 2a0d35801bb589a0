// The fleet bench (issue 19): the gateway against a direct call to one agent, in one run.
//   npm run build && npm run bench:fleet [-- --hosts 5 --size 1000 --watchers 1000]
// Results: bench/results/fleet.{json,md}. Run it alone on the machine (flock /tmp/lit-heavy.lock).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { type ClientReadableStream, credentials } from '@grpc/grpc-js';
import { ActiveState, type GetStatusResponse, type ListStreamsResponse, StreamServiceClient, type WatchStatusResponse } from '../gen/lit/stream/v1/stream.js';
import { type Clients, openChannel, openClients, unary } from './clients.js';
import { bootFixture, type Fixture, TEAM, unitOf } from './fixture.js';
import { type LatencyStats, sequential, sequentialInterleaved, summarize, warmUp, withTimeout } from './measure.js';
import { type ServerProcess, startServer } from './server.js';

const ROOT = resolve(import.meta.dirname, '..');
const { values } = parseArgs({
  options: {
    hosts: { type: 'string', default: '5' },
    size: { type: 'string', default: '1000' },
    watchers: { type: 'string', default: '1000' },
    'watch-channels': { type: 'string', default: '20' },
    rounds: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '10' },
    entry: { type: 'string', default: 'dist/src/daemon/cli.js' },
    // A CPU profile of each gateway (node --cpu-prof) and its top functions by self time.
    profile: { type: 'boolean', default: false },
  },
});
const HOSTS = Number(values.hosts);
const SIZE = Number(values.size);
const WATCHERS = Number(values.watchers);
const ROUNDS = Number(values.rounds);
const SECONDS = Number(values.seconds);
const ENTRY = resolve(ROOT, values.entry);
/** The fleets measured: gateways over the first 1, 3 and 5 hosts (as many as there are). */
const FLEET_SIZES = [1, 3, 5].filter((n) => n <= HOSTS);
/** The watch fan-out runs through the gateway over this many hosts. */
const WATCH_HOSTS = Math.min(3, HOSTS);

interface Host {
  readonly name: string;
  readonly fixture: Fixture;
  readonly agent: ServerProcess;
}

const targets = {
  routedGetStatusRatio: 1.5,
  list3x1000P50Ms: 30,
  gatewayRssWithWatchersMb: 200,
};

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'lit-stream-fleet-bench-'));
  const hosts: Host[] = [];
  const gateways: ServerProcess[] = [];
  const clients: Clients[] = [];
  const profiles = new Map<ServerProcess, string>();
  const report: Record<string, unknown> = {
    startedAt: new Date().toISOString(),
    loadAverageBefore: loadavg(),
    options: { hosts: HOSTS, size: SIZE, watchers: WATCHERS, rounds: ROUNDS, seconds: SECONDS, entry: values.entry },
  };
  try {
    // Hosts one after the other: each starts half its streams, which is systemd's busiest moment.
    for (let index = 1; index <= HOSTS; index++) {
      const name = `feed-${index}`;
      const fixture = await bootFixture({ size: SIZE, startConcurrency: 16, prefix: `f${index}s` });
      const agent = await startServer({
        entry: ENTRY,
        bus: fixture.sandbox.busAddress,
        cwd: ROOT,
        extraArgs: ['--journal-directory', fixture.sandbox.journalDirectory, '--host-name', name, '--settle-ms', '0'],
      });
      hosts.push({ name, fixture, agent });
      log(`${name}: ${SIZE} streams (${fixture.running.length} running), agent at ${agent.address}`);
    }
    const gatewayOver = async (count: number) => {
      const file = join(work, `fleet-${count}.yaml`);
      const lines = hosts.slice(0, count).flatMap((host) => [`  - name: ${host.name}`, `    address: ${host.agent.address}`]);
      await writeFile(file, `hosts:\n${lines.join('\n')}\ndeadline: 2s\n`);
      const profileDir = join(work, `profile-${count}`);
      const nodeArgs = values.profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
      const gateway = await startServer({ entry: ENTRY, cwd: ROOT, nodeArgs, extraArgs: ['--fleet', file] });
      profiles.set(gateway, profileDir);
      gateways.push(gateway);
      return gateway;
    };

    // GetStatus, routed by the gateway (no host) and direct to the agent, interleaved.
    const first = hosts[0]!;
    const direct = openClients(first.agent.address, 'direct');
    clients.push(direct);
    const results: Record<string, unknown> = {};
    for (const count of FLEET_SIZES) {
      const gateway = await gatewayOver(count);
      const through = openClients(gateway.address, `gateway-${count}`);
      clients.push(through);
      const getStatus = (on: Clients) => async (index: number) => {
        const name = first.fixture.running[index % first.fixture.running.length]!;
        const response = await unary<GetStatusResponse>((md, o, cb) => on.streams.getStatus({ team: TEAM, name }, md, o, cb));
        if (response.status?.name !== name || response.status.activeState !== ActiveState.ACTIVE_STATE_ACTIVE) throw new Error(`GetStatus(${name}): ${JSON.stringify(response.status)}`);
      };
      await warmUp(getStatus(through), 200);
      await warmUp(getStatus(direct), 200);
      const [directStats, routedStats] = (await sequentialInterleaved([getStatus(direct), getStatus(through)], { maxCount: 5_000, maxMs: SECONDS * 1000, minCount: 200 })) as [LatencyStats, LatencyStats];
      const list = (on: Clients, expected: number) => async () => {
        const response = await unary<ListStreamsResponse>((md, o, cb) => on.streams.listStreams({ team: TEAM, pageSize: 1000, pageToken: '' }, md, o, cb));
        if (response.streams.length !== Math.min(1000, expected) || response.hostErrors.length > 0) {
          throw new Error(`ListStreams: ${response.streams.length} streams, ${response.hostErrors.length} host errors`);
        }
      };
      await warmUp(list(through, count * SIZE), 10, 1);
      const listThrough = await sequential(list(through, count * SIZE), { maxCount: 500, maxMs: SECONDS * 1000, minCount: 30 });
      const listDirect = count === 1 ? await sequential(list(direct, SIZE), { maxCount: 500, maxMs: SECONDS * 1000, minCount: 30 }) : undefined;
      results[`${count}`] = { getStatusDirect: directStats, getStatusRouted: routedStats, listThrough, ...(listDirect ? { listDirect } : {}), gatewayRss: await gateway.memory() };
      log(`${count} host(s): GetStatus p50 direct ${ms(directStats.p50)}, routed ${ms(routedStats.p50)}; ListStreams p50 ${ms(listThrough.p50)} over ${count * SIZE}`);
      await gateway.stop();
      gateways.splice(gateways.indexOf(gateway), 1);
      if (values.profile) (results[`${count}`] as Record<string, unknown>).profile = await topFunctions(profiles.get(gateway)!);
    }
    report.fleets = results;

    // A change reaching every watcher, through a gateway of its own over WATCH_HOSTS hosts: its
    // RSS is that of serving the watchers, not what the calls above left in its heap.
    const gateway = await gatewayOver(WATCH_HOSTS);
    report.watch = await watchFanOut(gateway, first);
    report.loadAverageAfter = loadavg();
    report.targets = verdicts(report);
  } finally {
    for (const each of clients) each.close();
    for (const gateway of gateways) {
      await gateway.stop();
      if (values.profile && report.watch) (report.watch as Record<string, unknown>).profile = await topFunctions(profiles.get(gateway)!);
    }
    for (const host of hosts) {
      await host.agent.stop();
      await host.fixture.close();
    }
    await rm(work, { recursive: true, force: true });
  }
  const outDir = join(ROOT, 'bench', 'results');
  await writeFile(join(outDir, 'fleet.json'), `${JSON.stringify(report, null, 2)}\n`);
  const markdown = render(report);
  await writeFile(join(outDir, 'fleet.md'), markdown);
  process.stdout.write(markdown);
}

/**
 * WATCHERS watchers of team `bench` through the gateway (batch_initial), over several HTTP/2
 * connections; the gateway's RSS once every watcher has its snapshot; then ROUNDS times a stream of
 * the first host is started or stopped over D-Bus (not through any lit-streamd), timed until every
 * watcher has heard of it.
 */
async function watchFanOut(gateway: ServerProcess, host: Host): Promise<Record<string, unknown>> {
  const channels = Array.from({ length: Number(values['watch-channels']) }, (_, i) => openChannel(gateway.address, `watchers-${i}`));
  const watchClients = channels.map((channel) => new StreamServiceClient(gateway.address, credentials.createInsecure(), { channelOverride: channel }));
  const calls: ClientReadableStream<WatchStatusResponse>[] = [];
  const expected = WATCH_HOSTS * SIZE;
  const snapshot = new Int32Array(WATCHERS);
  const trigger = host.fixture.stopped[0]!;
  let round: { from: ActiveState; heard: Uint8Array; count: number; done: () => void } | undefined;
  const idleMemory = await gateway.memory();
  try {
    const opened = performance.now();
    let ready!: () => void;
    const allReady = new Promise<void>((resolve) => (ready = resolve));
    let readyCount = 0;
    for (let index = 0; index < WATCHERS; index++) {
      const call = watchClients[index % watchClients.length]!.watchStatus({ team: TEAM, name: '', batchInitial: true });
      calls.push(call);
      call.on('data', (message: WatchStatusResponse) => {
        if (message.statuses.length > 0) {
          snapshot[index]! += message.statuses.length;
          if (message.initialComplete && snapshot[index] === expected && ++readyCount === WATCHERS) ready();
        }
        const status = message.status;
        if (round && status?.name === trigger && status.host === host.name && status.activeState !== round.from && !round.heard[index]) {
          round.heard[index] = 1;
          if (++round.count === WATCHERS) round.done();
        }
      });
      call.on('error', () => undefined);
    }
    await withTimeout(allReady, 300_000, `${WATCHERS} watchers' snapshots`);
    const readyMs = performance.now() - opened;
    const idle = idleMemory;
    const memory = await gateway.memory();
    log(`${WATCHERS} watchers ready in ${ms(readyMs)}; gateway RSS ${mb(memory.rssBytes)}`);
    const samples: number[] = [];
    for (let index = 0; index < ROUNDS; index++) {
      const start = index % 2 === 0;
      const heard = new Uint8Array(WATCHERS);
      const everyone = new Promise<void>((resolve) => {
        round = { from: start ? ActiveState.ACTIVE_STATE_INACTIVE : ActiveState.ACTIVE_STATE_ACTIVE, heard, count: 0, done: resolve };
      });
      const unit = unitOf(trigger);
      const began = performance.now();
      void host.fixture.jobs.run(unit, () => (start ? host.fixture.manager.StartUnit(unit, 'replace') : host.fixture.manager.StopUnit(unit, 'replace')));
      await withTimeout(everyone, 60_000, 'every watcher to hear of the change');
      samples.push(performance.now() - began);
      round = undefined;
    }
    return { watchers: WATCHERS, hosts: WATCH_HOSTS, statusesEach: expected, readyMs, gatewayRssBefore: idle, gatewayRss: memory, allHeard: summarize(samples) };
  } finally {
    for (const call of calls) call.cancel();
    for (const client of watchClients) client.close();
    for (const channel of channels) channel.close();
  }
}

/** The functions with the most self time in the gateway's CPU profile (V8's .cpuprofile). */
async function topFunctions(dir: string, top = 12): Promise<{ function: string; selfPercent: number }[]> {
  const { readdir, readFile } = await import('node:fs/promises');
  const file = (await readdir(dir).catch(() => [])).find((name) => name.endsWith('.cpuprofile'));
  if (!file) return [];
  const profile = JSON.parse(await readFile(join(dir, file), 'utf8')) as {
    nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
    samples: number[];
  };
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map<string, number>();
  // Shares of the time the gateway was busy: idle samples left out.
  const busy = profile.samples.filter((id) => byId.get(id)?.callFrame.functionName !== '(idle)');
  for (const id of busy) {
    const frame = byId.get(id)?.callFrame;
    const name = frame ? `${frame.functionName || '(anonymous)'} ${frame.url.replace(/^.*\/(node_modules|dist)\//, '$1/')}:${frame.lineNumber + 1}` : '?';
    self.set(name, (self.get(name) ?? 0) + 1);
  }
  return [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, count]) => ({ function: name, selfPercent: Math.round((1000 * count) / busy.length) / 10 }));
}

function verdicts(report: Record<string, unknown>): Record<string, unknown>[] {
  const fleets = report.fleets as Record<string, { getStatusDirect: LatencyStats; getStatusRouted: LatencyStats; listThrough: LatencyStats }>;
  const rows: Record<string, unknown>[] = [];
  for (const [count, fleet] of Object.entries(fleets)) {
    const ratio = fleet.getStatusRouted.p50 / fleet.getStatusDirect.p50;
    rows.push({ target: `routed GetStatus p50 ≤ ${targets.routedGetStatusRatio}× direct (${count} host${count === '1' ? '' : 's'})`, measured: `${ratio.toFixed(2)}× (${ms(fleet.getStatusRouted.p50)} vs ${ms(fleet.getStatusDirect.p50)})`, met: ratio <= targets.routedGetStatusRatio });
  }
  const three = fleets['3'];
  if (three) rows.push({ target: `ListStreams over 3 × ${SIZE} p50 ≤ ${targets.list3x1000P50Ms} ms`, measured: ms(three.listThrough.p50), met: three.listThrough.p50 <= targets.list3x1000P50Ms });
  const watch = report.watch as { gatewayRss: { rssBytes: number } } | undefined;
  if (watch) {
    const rss = watch.gatewayRss.rssBytes / 1024 / 1024;
    rows.push({ target: `gateway RSS ≤ ${targets.gatewayRssWithWatchersMb} MB, ${WATCHERS} watchers over ${WATCH_HOSTS} × ${SIZE}`, measured: `${rss.toFixed(0)} MB`, met: rss <= targets.gatewayRssWithWatchersMb });
  }
  return rows;
}

function render(report: Record<string, unknown>): string {
  const fleets = report.fleets as Record<string, { getStatusDirect: LatencyStats; getStatusRouted: LatencyStats; listThrough: LatencyStats; listDirect?: LatencyStats; gatewayRss: { rssBytes: number } }>;
  const watch = report.watch as { readyMs: number; allHeard: LatencyStats; gatewayRss: { rssBytes: number }; gatewayRssBefore: { rssBytes: number }; profile?: { function: string; selfPercent: number }[] };
  const lines = [
    '# Fleet bench',
    '',
    `${String(report.startedAt)}; load average before ${(report.loadAverageBefore as number[]).map((n) => n.toFixed(2)).join(' ')}, after ${(report.loadAverageAfter as number[]).map((n) => n.toFixed(2)).join(' ')}; ${HOSTS} hosts × ${SIZE} streams (half running), agents and gateways from ${String(values.entry)}.`,
    '',
    '| Target | Measured | |',
    '| --- | --- | --- |',
    ...(report.targets as { target: string; measured: string; met: boolean }[]).map((row) => `| ${row.target} | ${row.measured} | ${row.met ? 'met' : 'missed'} |`),
    '',
    '| Hosts | GetStatus direct p50 / p99 | GetStatus routed p50 / p99 | ListStreams (page of 1000) p50 / p99 | gateway RSS after |',
    '| --- | --- | --- | --- | --- |',
    ...Object.entries(fleets).map(
      ([count, f]) =>
        `| ${count} | ${ms(f.getStatusDirect.p50)} / ${ms(f.getStatusDirect.p99)} | ${ms(f.getStatusRouted.p50)} / ${ms(f.getStatusRouted.p99)} | ${ms(f.listThrough.p50)} / ${ms(f.listThrough.p99)}${f.listDirect ? ` (direct ${ms(f.listDirect.p50)})` : ''} | ${mb(f.gatewayRss.rssBytes)} |`,
    ),
    '',
    ...Object.entries(fleets).flatMap(([count, f]) => {
      const profile = (f as { profile?: { function: string; selfPercent: number }[] }).profile;
      return profile?.length ? ['', `Gateway over ${count} host(s), top functions by self time (of its busy time): ${profile.map((p) => `${p.function} ${p.selfPercent} %`).join('; ')}.`] : [];
    }),
    '',
    `Watch: ${WATCHERS} watchers through a gateway of their own over ${WATCH_HOSTS} × ${SIZE} streams, every snapshot in ${ms(watch.readyMs)}; gateway RSS ${mb(watch.gatewayRssBefore.rssBytes)} before the watchers, ${mb(watch.gatewayRss.rssBytes)} with them; a change (D-Bus StartUnit/StopUnit on a host) reached every watcher in p50 ${ms(watch.allHeard.p50)}, max ${ms(watch.allHeard.max)} (${watch.allHeard.count} rounds).`,
    ...(watch.profile?.length ? ['', `Watch gateway, top functions by self time (of its busy time): ${watch.profile.map((p) => `${p.function} ${p.selfPercent} %`).join('; ')}.`] : []),
    '',
  ];
  return lines.join('\n');
}

function ms(value: number): string {
  return `${value < 10 ? value.toFixed(2) : value.toFixed(0)} ms`;
}

function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(0)} MB`;
}

function log(line: string): void {
  process.stderr.write(`== ${line}\n`);
}

await main();
