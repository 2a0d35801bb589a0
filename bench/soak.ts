import { mkdir, mkdtemp, realpath, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { activeStateWord, loadStateWord } from '../src/api/stateNames.js';
import { readServiceState } from '../src/systemd/serviceState.js';
import { type GetStatusResponse } from '../gen/lit/stream/v1/stream.js';
import { freePort } from '../test/support/freePort.js';
import { openClients, unary } from './clients.js';
import { bootFixture, type Fixture, TEAM, unitOf } from './fixture.js';
import type { BenchOptions } from './options.js';
import type { MachineInfo } from './report.js';
import { type ServerProcess, startServer } from './server.js';
import { type CallTally, type SoakEvents, SoakLoad, SOAK_DEADLINE_MS } from './soakLoad.js';
import { FOOTPRINT_KEYS, type Footprint, readFootprint } from './soakProbe.js';
import { type ConstructorGrowth, type HeapSummary, heapGrowth, liveHeapOf, snapshotNodeArgs } from './heapSnapshot.js';

/** Footprint samples per checkpoint, a second apart, with the load paused. */
const SAMPLES = 5;
/** Heap snapshots per checkpoint, after the samples: their spread is the live heap's noise at rest. */
const HEAP_SNAPSHOTS = 3;
/** RSS samples after the snapshots, a second apart. */
const RSS_SAMPLES_AFTER = 3;
/** How long after a bus restart a checkpoint waits before it samples. */
const BUS_RESTART_SETTLE_MS = 15_000;

export interface Checkpoint {
  readonly name: 'start' | 'middle' | 'end';
  /** Seconds of load before it (warm-up included). */
  readonly atSeconds: number;
  readonly samples: readonly Footprint[];
  /** Median of the samples. */
  readonly value: Footprint;
  /** Spread (max − min) of the samples: how much the figure moves at rest. */
  readonly spread: Footprint;
  /** The heap that survived a full GC, per heap snapshot (bench/heapSnapshot.ts), taken after the samples. */
  readonly liveHeapSamples: readonly number[];
  /** Their median and spread. */
  readonly liveHeap: number;
  readonly liveHeapSpread: number;
  /**
   * VmRSS after the snapshots, median and spread of RSS_SAMPLES_AFTER: right after full
   * collections, and comparable between checkpoints, which RSS before them is not (taking a
   * snapshot raises the process's RSS for good: memory the allocator keeps).
   */
  readonly rssAfterSnapshotsBytes: number;
  readonly rssAfterSnapshotsSpread: number;
}

/** What grew between two checkpoints' last snapshots, by constructor (top 10 by self size). */
export interface HeapGrowth {
  readonly from: Checkpoint['name'];
  readonly to: Checkpoint['name'];
  readonly constructors: ConstructorGrowth[];
}

export interface Mismatch {
  readonly stream: string;
  readonly field: string;
  readonly server: unknown;
  readonly systemd: unknown;
  /** `GetStatus`, or `watcher N` for a persistent watch's latest message. */
  readonly source: string;
}

export interface SoakReport {
  readonly machine: MachineInfo;
  readonly minutes: number;
  readonly warmUpSeconds: number;
  readonly busRestartSeconds: number;
  readonly streams: number;
  readonly checkpoints: Checkpoint[];
  readonly heapGrowth: HeapGrowth[];
  readonly calls: Record<string, CallTally>;
  readonly events: SoakEvents;
  readonly hung: Array<{ method: string; openMs: number }>;
  readonly mismatches: Mismatch[];
  readonly streamsCompared: number;
  readonly serverExit?: string;
  readonly errors: string[];
  readonly wallMs: number;
}

export interface SoakContext {
  readonly options: BenchOptions;
  readonly repoRoot: string;
  readonly machine: MachineInfo;
  readonly progress: (message: string) => void;
  /** Aborted on SIGINT/SIGTERM/total timeout. */
  readonly interrupt: AbortSignal;
  /** Registers what to tear down on an interrupt. */
  readonly onTeardown: (teardown: () => Promise<void>) => void;
  readonly startedPid: (pid: number) => void;
}

/**
 * `npm run bench -- --soak MINUTES`: lit-streamd under a mixed load (SoakLoad) for a warm-up and
 * then MINUTES, with its footprint read at rest at the start (after the warm-up), the middle and
 * the end; then every stream's status as the server and its long-lived watchers hold it compared
 * with systemd's own answer. Writes bench/results/soak.{json,md}.
 */
export async function runSoak(context: SoakContext): Promise<SoakReport> {
  const { options, progress } = context;
  const minutes = options.soakMinutes!;
  const warmUpSeconds = Math.min(60, Math.max(10, minutes * 6));
  const started = performance.now();
  const errors: string[] = [];
  const checkpoints: Checkpoint[] = [];
  const heaps = new Map<Checkpoint['name'], HeapSummary>();
  // Where the server writes its heap snapshots (each deleted once read).
  const snapshotDir = await realpath(await mkdtemp(join(tmpdir(), 'lit-stream-soak-')));
  let fixture: Fixture | undefined;
  let server: ServerProcess | undefined;
  let load: SoakLoad | undefined;
  let report: SoakReport | undefined;
  const teardown = async () => {
    await load?.stop().catch(() => undefined);
    await server?.stop();
    await fixture?.close();
    await rm(snapshotDir, { recursive: true, force: true });
  };
  context.onTeardown(teardown);

  try {
    progress(`soak: booting systemd with ${options.soakStreams} streams`);
    fixture = await bootFixture({ size: options.soakStreams, startConcurrency: options.startConcurrency, onBooted: (s) => context.startedPid(s.pid) });
    const sandbox = fixture.sandbox;
    const metricsAddress = `127.0.0.1:${await freePort()}`;
    server = await startServer({
      entry: options.serverEntry,
      nodeArgs: [...snapshotNodeArgs(snapshotDir), ...options.serverNodeArgs],
      extraArgs: ['--metrics-listen', metricsAddress],
      bus: sandbox.busAddress,
      cwd: context.repoRoot,
    });
    context.startedPid(server.pid);
    const pid = server.pid;
    const streams = fixture.streams;
    load = new SoakLoad({
      address: server.address,
      metricsAddress,
      sandbox,
      streams,
      churn: streams.slice(0, Math.max(4, Math.round(streams.length / 10))),
      readsPerSecond: 40,
      actionEveryMs: 400,
      abandonEveryMs: 500,
      persistentWatches: 10,
      scrapeEveryMs: 2_000,
      reloadEveryMs: 3_000,
      busRestartEveryMs: options.soakBusRestartMs,
      clientKillEveryMs: 15_000,
      clientCommand: [process.execPath, '--import', 'tsx', join(context.repoRoot, 'bench/soakClient.ts')],
      cwd: context.repoRoot,
      log: progress,
    });
    const running = load;
    const alive = () => {
      if (server?.exit) throw new Error(`lit-streamd exited (${server.exit.signal ?? `code ${server.exit.code}`}): ${server.output.trim().split('\n').slice(-5).join(' / ')}`);
    };
    const loadStarted = performance.now();
    const elapsed = () => (performance.now() - loadStarted) / 1000;
    const until = async (seconds: number) => {
      while (elapsed() < seconds && !context.interrupt.aborted) {
        alive();
        const hung = running.hung();
        if (hung.length > 0) throw new Error(`${hung.length} calls open past their deadline: ${hung.map((h) => h.method).join(', ')}`);
        await delay(Math.min(1_000, (seconds - elapsed()) * 1000 + 1));
      }
    };
    /** The footprint at rest: SAMPLES samples, then HEAP_SNAPSHOTS heap snapshots. */
    const atRest = async (name: Checkpoint['name'], atSeconds: number) => {
      const samples: Footprint[] = [];
      for (let i = 0; i < SAMPLES; i++) {
        samples.push(await footprintWhenConnected(pid, metricsAddress, sandbox.busAddress));
        await delay(1_000);
      }
      const liveHeapSamples: number[] = [];
      for (let i = 0; i < HEAP_SNAPSHOTS; i++) {
        const heap = await liveHeapOf(pid, snapshotDir);
        liveHeapSamples.push(heap.liveBytes);
        heaps.set(name, heap);
        await delay(1_000);
      }
      const rssAfter: number[] = [];
      for (let i = 0; i < RSS_SAMPLES_AFTER; i++) {
        rssAfter.push((await server!.memory()).rssBytes);
        await delay(1_000);
      }
      const heap = medianAndSpread(liveHeapSamples);
      const rss = medianAndSpread(rssAfter);
      checkpoints.push({
        name,
        atSeconds,
        samples,
        ...summarizeSamples(samples),
        liveHeapSamples,
        liveHeap: heap.median,
        liveHeapSpread: heap.spread,
        rssAfterSnapshotsBytes: rss.median,
        rssAfterSnapshotsSpread: rss.spread,
      });
      progress(`soak: ${name}: live heap ${liveHeapSamples.map((b) => (b / MB).toFixed(2)).join(', ')} MB`);
    };
    const checkpoint = async (name: Checkpoint['name']) => {
      progress(`soak: ${name} checkpoint at ${elapsed().toFixed(0)} s of load`);
      const atSeconds = elapsed();
      await running.pause();
      await delay(2_000);
      // Not right after a bus restart: the reconnect's resynchronisation is a burst of its own,
      // and samples taken in it would measure that burst, not what the server keeps.
      while (performance.now() - running.lastBusRestartAt < BUS_RESTART_SETTLE_MS) await delay(500);
      await atRest(name, atSeconds);
      running.resume();
    };

    progress(`soak: load for ${warmUpSeconds} s of warm-up, then ${minutes} min`);
    running.start();
    await until(warmUpSeconds);
    await checkpoint('start');
    const loadSeconds = warmUpSeconds + minutes * 60;
    await until(warmUpSeconds + (minutes * 60) / 2);
    await checkpoint('middle');
    await until(loadSeconds);
    alive();
    await running.pause();
    await delay(2_000);
    while (performance.now() - running.lastBusRestartAt < BUS_RESTART_SETTLE_MS) await delay(500);
    // The end footprint is read with the load stopped for good, after the comparison's own calls.
    const comparison = await compareWithSystemd(fixture, server.address, running.watcherViews());
    await atRest('end', elapsed());
    report = {
      machine: context.machine,
      minutes,
      warmUpSeconds,
      busRestartSeconds: options.soakBusRestartMs / 1000,
      streams: streams.length,
      checkpoints,
      heapGrowth: growthBetween(heaps),
      calls: running.tallies(),
      events: running.events,
      hung: running.hung(),
      mismatches: comparison.mismatches,
      streamsCompared: comparison.compared,
      errors,
      wallMs: performance.now() - started,
    };
  } catch (error) {
    errors.push((error as Error).message);
    progress(`soak FAILED: ${(error as Error).message}`);
  } finally {
    progress('soak: tearing down');
    await teardown().catch((error: Error) => errors.push(`teardown: ${error.message}`));
  }
  return (
    report ?? {
      machine: context.machine,
      minutes,
      warmUpSeconds,
      busRestartSeconds: options.soakBusRestartMs / 1000,
      streams: options.soakStreams,
      checkpoints,
      heapGrowth: growthBetween(heaps),
      calls: load?.tallies() ?? {},
      events: load?.events ?? { reloads: 0, reloadFailures: 0, busRestarts: 0, clientsKilled: 0, watchesAbandoned: 0, persistentWatchesEnded: {} },
      hung: load?.hung() ?? [],
      mismatches: [],
      streamsCompared: 0,
      serverExit: server?.exit ? `${server.exit.signal ?? server.exit.code}` : undefined,
      errors,
      wallMs: performance.now() - started,
    }
  );
}

function growthBetween(heaps: ReadonlyMap<Checkpoint['name'], HeapSummary>): HeapGrowth[] {
  const pairs = [
    ['start', 'middle'],
    ['middle', 'end'],
  ] as const;
  return pairs.flatMap(([from, to]) => {
    const a = heaps.get(from);
    const b = heaps.get(to);
    return a && b ? [{ from, to, constructors: heapGrowth(a, b, 10) }] : [];
  });
}

/** A footprint, retried while the server is between bus connections (just after a bus restart). */
async function footprintWhenConnected(pid: number, metricsAddress: string, busAddress: string): Promise<Footprint> {
  const deadline = performance.now() + 30_000;
  for (;;) {
    try {
      return await readFootprint(pid, metricsAddress, busAddress);
    } catch (error) {
      if (performance.now() > deadline) throw error;
      await delay(500);
    }
  }
}

function medianAndSpread(values: readonly number[]): { median: number; spread: number } {
  const sorted = [...values].sort((a, b) => a - b);
  return { median: sorted[Math.floor(sorted.length / 2)]!, spread: sorted[sorted.length - 1]! - sorted[0]! };
}

function summarizeSamples(samples: readonly Footprint[]): { value: Footprint; spread: Footprint } {
  const value = {} as Record<(typeof FOOTPRINT_KEYS)[number], number>;
  const spread = {} as Record<(typeof FOOTPRINT_KEYS)[number], number>;
  for (const key of FOOTPRINT_KEYS) {
    ({ median: value[key], spread: spread[key] } = medianAndSpread(samples.map((sample) => sample[key])));
  }
  const childNames = [...new Set(samples.flatMap((sample) => sample.childNames ?? []))];
  return { value: { ...value, childNames, callsStarted: samples[samples.length - 1]?.callsStarted }, spread };
}

/**
 * Every stream as GetStatus reports it, and as each persistent watcher last heard it, against
 * systemd's own GetAll. Signals may still be in flight for a moment after the load stops: a
 * difference counts only if it is still there after 5 s of retries.
 */
async function compareWithSystemd(
  fixture: Fixture,
  address: string,
  watchers: ReadonlyArray<ReadonlyMap<string, { activeState: number; subState: string }>>,
): Promise<{ compared: number; mismatches: Mismatch[] }> {
  const clients = openClients(address, 'soak-compare');
  try {
    let mismatches: Mismatch[] = [];
    const deadline = performance.now() + 5_000;
    do {
      mismatches = [];
      await fixture.sandbox.withManager(async (manager) => {
        // Which units systemd has loaded: asking GetAll of a unit that is not would load it.
        const loaded = new Set((await manager.ListUnitsByPatterns([], [unitOf('*')])).map((unit) => unit.name));
        for (const name of fixture.streams) {
          const isLoaded = loaded.has(unitOf(name));
          const truth = isLoaded ? readServiceState(await manager.getUnitProperties(unitOf(name))) : NOT_LOADED;
          const differ = (field: string, server: unknown, systemd: unknown, source = 'GetStatus') => {
            if (server !== systemd) mismatches.push({ stream: name, field, server, systemd, source });
          };
          watchers.forEach((view, i) => {
            const heard = view.get(name);
            differ('activeState', heard ? activeStateWord(heard.activeState) : '(nothing)', truth.ActiveState, `watcher ${i}`);
            differ('subState', heard?.subState ?? '(nothing)', truth.SubState, `watcher ${i}`);
          });
          const answer = await unary<GetStatusResponse>((md, o, cb) => clients.streams.getStatus({ team: TEAM, name }, md, o, cb), SOAK_DEADLINE_MS).then(
            (response) => response,
            (error: Error) => error,
          );
          if (answer instanceof Error) {
            differ('GetStatus', `failed: ${answer.message}`, `${truth.LoadState}/${truth.ActiveState}/${truth.SubState}`);
            continue;
          }
          const { status } = answer;
          differ('activeState', activeStateWord(status!.activeState), truth.ActiveState);
          differ('subState', status!.subState, truth.SubState);
          differ('loadState', loadStateWord(status!.loadState), truth.LoadState);
          // Of a unit systemd does not hold, there is nothing more to compare.
          if (!isLoaded) continue;
          differ('mainPid', status!.mainPid, truth.MainPID);
          differ('restartCount', status!.restartCount, truth.NRestarts);
          differ('result', status!.result, truth.Result);
        }
      });
      if (mismatches.length === 0) break;
      await delay(500);
    } while (performance.now() < deadline);
    return { compared: fixture.streams.length, mismatches };
  } finally {
    clients.close();
  }
}

const MB = 1_000_000;

/** A unit systemd has not loaded, as systemd's ListUnits implies it: nothing runs. */
const NOT_LOADED = readServiceState({ LoadState: '', ActiveState: 'inactive', SubState: 'dead' });

export function renderSoak(report: SoakReport): string {
  const lines: string[] = ['# lit-streamd soak', ''];
  const m = report.machine;
  lines.push(
    `${m.date} · ${m.cpus} × ${m.cpuModel} · Node ${m.node} · systemd ${m.systemd} · load average ${m.loadAverage.map((l) => l.toFixed(2)).join(' ')} at start` +
      (m.git ? ` · commit ${m.git.commit.slice(0, 10)}${m.git.dirty ? ' + uncommitted changes' : ''}` : ''),
    '',
    `${report.streams} streams, ${report.warmUpSeconds} s warm-up then ${report.minutes} min of mixed load: ~40 reads/s (GetStatus, 1 in 10 ListStreams), ` +
      'an action every 0.4 s on a tenth of the streams, a watch opened and cancelled every 0.5 s (often mid-snapshot), 10 long-lived watches, ' +
      `a /metrics scrape every 2 s, a daemon-reload every 3 s, the bus daemon killed (SIGTERM; socket activation restarts it) every ${report.busRestartSeconds} s, ` +
      `a client process SIGKILLed mid-call every 15 s. Every unary call has a ${SOAK_DEADLINE_MS / 1000} s deadline. Wall time ${(report.wallMs / 1000).toFixed(0)} s.`,
    '',
  );
  if (report.checkpoints.length > 0) {
    lines.push(
      `Footprint of lit-streamd at rest (load paused 2 s and at least ${BUS_RESTART_SETTLE_MS / 1000} s after a bus restart): ${SAMPLES} samples 1 s apart, ` +
        `then ${HEAP_SNAPSHOTS} heap snapshots (SIGUSR2, --heapsnapshot-signal) whose nodes' self sizes add up to the heap that survived a full GC, ` +
        `then ${RSS_SAMPLES_AFTER} RSS samples; each figure the median ± the spread (max − min) at rest. ` +
        'RSS before the snapshots is not compared: the first snapshot (at the start checkpoint) raises RSS for good, by memory the allocator keeps.',
      '',
      '| Checkpoint | after | RSS before the snapshots | live heap (after full GC) | RSS after the snapshots | open fds | D-Bus match rules | child processes | open watches |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    );
    for (const c of report.checkpoints) {
      const f = (key: (typeof FOOTPRINT_KEYS)[number], bytes = false) =>
        bytes ? `${mb(c.value[key])} ± ${mb(c.spread[key])} MB` : `${c.value[key]}${c.spread[key] ? ` ± ${c.spread[key]}` : ''}`;
      lines.push(
        `| ${c.name} | ${c.atSeconds.toFixed(0)} s | ${f('rssBytes', true)} | ${mb(c.liveHeap, 2)} ± ${mb(c.liveHeapSpread, 2)} MB | ${mb(c.rssAfterSnapshotsBytes)} ± ${mb(c.rssAfterSnapshotsSpread)} MB | ${f('fds')} | ${f('matchRules')} | ${f('children')}${c.value.childNames?.length ? ` (${c.value.childNames.join(', ')})` : ''} | ${f('openWatches')} |`,
      );
    }
    const first = report.checkpoints.find((c) => c.name === 'start');
    const last = report.checkpoints.find((c) => c.name === 'end');
    if (first && last) {
      lines.push('', '| Growth start → end | change | noise (largest spread at rest) | verdict |', '| --- | ---: | ---: | --- |');
      const row = (label: string, change: number, noise: number, show: (v: number) => string) =>
        lines.push(`| ${label} | ${change >= 0 ? '+' : ''}${show(change)} | ${show(noise)} | ${change <= noise ? 'within noise' : '**grew**'} |`);
      const noise = (of: (c: Checkpoint) => number) => Math.max(...report.checkpoints.map(of));
      row('live heap', last.liveHeap - first.liveHeap, noise((c) => c.liveHeapSpread), (v) => `${mb(v, 2)} MB`);
      row('RSS after the snapshots', last.rssAfterSnapshotsBytes - first.rssAfterSnapshotsBytes, noise((c) => c.rssAfterSnapshotsSpread), (v) => `${mb(v)} MB`);
      for (const key of FOOTPRINT_KEYS.filter((k) => k !== 'rssBytes')) {
        row(LABELS[key], last.value[key] - first.value[key], noise((c) => c.spread[key]), String);
      }
    }
    for (const growth of report.heapGrowth) {
      const [from, to] = [growth.from, growth.to].map((name) => report.checkpoints.find((c) => c.name === name));
      const started = (c: Checkpoint | undefined, method?: string) =>
        Object.entries(c?.value.callsStarted ?? {}).reduce((sum, [m, n]) => (method === undefined || m === method ? sum + n : sum), 0);
      const calls = started(to) - started(from);
      const heapChange = (to?.liveHeap ?? 0) - (from?.liveHeap ?? 0);
      lines.push(
        '',
        `Live heap ${growth.from} → ${growth.to}: ${signed(heapChange, (v) => `${mb(v, 2)} MB`)} over ${calls} calls the server started ` +
          `(${started(to, 'GetStatus') - started(from, 'GetStatus')} GetStatus), ${signed(heapChange / Math.max(1, calls), (v) => `${v.toFixed(0)} B`)} per call; ` +
          `by constructor (last snapshot of each; the ${growth.constructors.length} that grew most in self size):`,
        '',
        '| constructor | objects | change | self size | change |',
        '| --- | ---: | ---: | ---: | ---: |',
        ...growth.constructors.map(
          (c) => `| \`${c.constructor.replace(/\s+/g, ' ').replaceAll('|', '\\|').slice(0, 60)}\` | ${c.count} | ${signed(c.countChange)} | ${kb(c.selfBytes)} | ${signed(c.selfBytesChange, kb)} |`,
        ),
      );
    }
    lines.push('');
  }
  lines.push('Calls (outcome counts; latency p50 / p99 / max):', '', '| Call | outcomes | p50 | p99 | max |', '| --- | --- | ---: | ---: | ---: |');
  for (const [method, tally] of Object.entries(report.calls).sort()) {
    const codes = Object.entries(tally.codes)
      .sort((a, b) => b[1] - a[1])
      .map(([code, n]) => `${code} ${n}`)
      .join(', ');
    lines.push(`| ${method} | ${codes} | ${ms(tally.latency.p50)} | ${ms(tally.latency.p99)} | ${ms(tally.latency.max)} |`);
  }
  const examples = Object.entries(report.calls).flatMap(([method, tally]) =>
    Object.entries(tally.examples ?? {}).flatMap(([code, messages]) => messages.map((message) => `- ${method} ${code}: ${message.replaceAll('\n', ' ')}`)),
  );
  if (examples.length > 0) lines.push('', 'Unexpected codes (the first few messages of each):', '', ...examples);
  const e = report.events;
  const ended = Object.entries(e.persistentWatchesEnded).map(([code, n]) => `${code} ${n}`).join(', ') || 'none';
  lines.push(
    '',
    `Events: ${e.reloads} daemon-reloads (${e.reloadFailures} could not be asked, the bus being down), ${e.busRestarts} bus restarts, ` +
      `${e.clientsKilled} client processes killed, ${e.watchesAbandoned} watches abandoned; long-lived watches ended: ${ended}.`,
    '',
    `Hung calls (open past deadline + 5 s): ${report.hung.length === 0 ? 'none' : report.hung.map((h) => `${h.method} (${(h.openMs / 1000).toFixed(0)} s)`).join(', ')}.`,
    '',
    report.mismatches.length === 0
      ? `At the end, all ${report.streamsCompared} streams' GetStatus and every long-lived watcher's latest message matched systemd's own GetAll (activeState, subState, loadState, mainPid, restartCount, result).`
      : `At the end, **${report.mismatches.length} differences** from systemd's own GetAll: ${report.mismatches
          .slice(0, 10)
          .map((x) => `${x.stream} ${x.field} (${x.source}): ${String(x.server)} vs systemd ${String(x.systemd)}`)
          .join('; ')}.`,
  );
  for (const error of report.errors) lines.push('', `**Error:** ${error}`);
  return `${lines.join('\n')}\n`;
}

const LABELS: Record<(typeof FOOTPRINT_KEYS)[number], string> = {
  rssBytes: 'RSS',
  fds: 'open fds',
  matchRules: 'D-Bus match rules',
  children: 'child processes',
  openWatches: 'open watches',
};

export async function writeSoak(outDir: string, report: SoakReport, markdown: string): Promise<{ json: string; md: string }> {
  await mkdir(outDir, { recursive: true });
  const json = join(outDir, 'soak.json');
  const md = join(outDir, 'soak.md');
  await writeFile(`${json}.tmp`, `${JSON.stringify(report, (_, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`);
  await writeFile(`${md}.tmp`, markdown);
  await rename(`${json}.tmp`, json);
  await rename(`${md}.tmp`, md);
  return { json, md };
}

function mb(bytes: number, digits = 1): string {
  return (bytes / MB).toFixed(digits);
}

function kb(bytes: number): string {
  return `${(bytes / 1000).toFixed(1)} kB`;
}

function signed(value: number, show: (v: number) => string = String): string {
  return `${value >= 0 ? '+' : '−'}${show(Math.abs(value))}`;
}

function ms(value: number): string {
  return Number.isFinite(value) ? `${value < 10 ? value.toFixed(2) : value.toFixed(0)} ms` : '–';
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
