// `npm run bench`: issue #4's benchmark of lit-streamd against a real (embedded) systemd.
// See bench/options.ts for the flags (`npm run bench -- --help`).
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { dirname, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { EmbeddedSystemd } from '../src/dev/embeddedSystemd.js';
import { measureDirectDbus, measureSystemctl } from './alternatives.js';
import { type Clients, openClients } from './clients.js';
import { CpuMeter } from './cpu.js';
import { bootFixture, type Fixture } from './fixture.js';
import { type BenchOptions, parseOptions, type Phase, USAGE, UsageError } from './options.js';
import { type BenchReport, evaluateTargets, growthOf, type MachineInfo, renderMarkdown, type SizeResult, writeResults } from './report.js';
import { checkOperation, getStatusOperation, measureList, measureStartStop, seqAndLoad } from './rpcs.js';
import { type ServerProcess, startServer } from './server.js';
import { renderSoak, runSoak, writeSoak } from './soak.js';
import { measureLogs } from './logs.js';
import { measureWatch } from './watch.js';
import { awaitSettled, measureIdle, scrapeGauges } from './idle.js';
import { freePort } from '../test/support/freePort.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const run = promisify(execFile);
const runStarted = performance.now();

/** Progress goes to stderr; stdout carries only the final markdown. */
function progress(message: string): void {
  process.stderr.write(`[bench ${((performance.now() - runStarted) / 1000).toFixed(1).padStart(6)} s] ${message}\n`);
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Set on SIGINT, SIGTERM or the total timeout: no new phase starts. */
const interrupt = new AbortController();
/** Teardowns of what is running now, for an interrupt or the total timeout. */
const teardowns = new Set<() => Promise<void>>();
/** Every process the bench started (systemd managers, servers), checked at the end. */
const startedPids = new Set<number>();

async function runSize(size: number, options: BenchOptions): Promise<SizeResult> {
  const started = performance.now();
  const result: SizeResult = { size, running: Math.ceil(size / 2), stopped: Math.floor(size / 2), wallMs: 0, cpu: {}, errors: {} };
  let sandbox: EmbeddedSystemd | undefined;
  let fixture: Fixture | undefined;
  let server: ServerProcess | undefined;
  let clients: Clients | undefined;

  let tornDown: Promise<void> | undefined;
  const teardown = () =>
    (tornDown ??= (async () => {
      clients?.close();
      if (server) {
        const gone = serverGone();
        if (gone) result.errors.server = gone;
        if (result.server) result.server.memoryEnd = await memory();
        const exit = await server.stop();
        if (result.server) result.server.exit = exit;
      }
      if (fixture) await fixture.close();
      else await sandbox?.shutdown();
    })());
  teardowns.add(teardown);

  let meter: CpuMeter | undefined;
  /** Why the server cannot be measured any more, if it died. */
  const serverGone = (): string | undefined => {
    const exit = server?.exit;
    if (!exit) return undefined;
    const tail = server!.output.trim().split('\n').slice(-5).join(' / ');
    return `lit-streamd exited unexpectedly (${exit.signal ?? `code ${exit.code}`})${tail ? `: ${tail}` : ''}`;
  };
  const phase = async <T>(
    name: Phase,
    label: string,
    measure: () => Promise<T>,
    { cpuKey = name, needsServer = true, metered = true }: { cpuKey?: string; needsServer?: boolean; metered?: boolean } = {},
  ): Promise<T | undefined> => {
    if (!options.phases.has(name) || interrupt.signal.aborted) return undefined;
    const gone = needsServer ? serverGone() : undefined;
    if (gone) {
      result.errors[name] = `not run: ${gone}`;
      return undefined;
    }
    progress(`N=${size}: ${label}`);
    try {
      if (!meter || !metered) return await measure();
      return await meter.measure(measure, (cpu) => (result.cpu[cpuKey] = cpu));
    } catch (error) {
      if (interrupt.signal.aborted) return undefined;
      const died = serverGone();
      result.errors[name] = died ? `${errorText(error)} — ${died}` : errorText(error);
      progress(`N=${size}: ${label} FAILED: ${result.errors[name]}`);
      return undefined;
    }
  };
  const memory = () => server?.memory().catch(() => undefined);

  try {
    progress(`N=${size}: booting systemd, declaring ${size} streams, starting ${result.running}`);
    fixture = await bootFixture({
      size,
      startConcurrency: options.startConcurrency,
      onBooted: (booted) => {
        sandbox = booted;
        startedPids.add(booted.pid);
      },
    });
    result.fixture = fixture.timings;
    progress(`N=${size}: starting lit-streamd`);
    const metricsAddress = `127.0.0.1:${await freePort()}`;
    server = await startServer({
      entry: options.serverEntry,
      nodeArgs: options.serverNodeArgs,
      extraArgs: ['--journal-directory', fixture.sandbox.journalDirectory, '--metrics-listen', metricsAddress],
      bus: fixture.sandbox.busAddress,
      cwd: REPO_ROOT,
    });
    startedPids.add(server.pid);
    result.server = { pid: server.pid, startupMs: server.startupMs, memoryIdle: await server.memory() };
    clients = openClients(server.address, 'unary');
    meter = await CpuMeter.create(server.pid, fixture.sandbox.pid, fixture.sandbox.cgroups);

    // Every phase measures the server settled: its warm-up reads done, the sampler walking.
    progress(`N=${size}: waiting for lit-streamd to settle (two walks of its usage sampler)`);
    const settleMs = await awaitSettled(metricsAddress);
    result.server.settleMs = settleMs;
    result.idle = await phase('idle', `idle for ${options.idleMs / 1000} s: the usage sampler's cost`, () =>
      measureIdle(metricsAddress, meter!, options.idleMs, settleMs),
      { metered: false },
    );
    if (result.idle) result.cpu.idle = result.idle.cpu;
    result.server.memorySettled = await memory();
    result.server.heapSettledBytes = (await scrapeGauges(metricsAddress).catch(() => undefined))?.heapUsedBytes;

    const loops = { durationMs: options.durationMs, concurrency: options.concurrency, seqCount: options.seqCount };
    const { running, stopped } = fixture;
    // The last stopped stream is the watch phase's; Start+Stop cycles use the others.
    const triggerStream = stopped[stopped.length - 1] as string;
    const cycled = stopped.slice(0, -1);
    const longMs = 3 * options.durationMs;

    // Check and GetStatus interleaved: their ratios are targets, so they share the machine's mood.
    const unaryPhases = (['check', 'getstatus'] as const).filter((name) => options.phases.has(name));
    if (unaryPhases.length > 0) {
      const label = unaryPhases.map((name) => (name === 'check' ? 'Health/Check' : 'GetStatus')).join(' and ');
      const operations = unaryPhases.map((name) => (name === 'check' ? checkOperation(clients!) : getStatusOperation(clients!, running)));
      const measured = await phase(
        unaryPhases[0]!,
        `${label}${unaryPhases.length > 1 ? ', interleaved' : ''}`,
        () => seqAndLoad(operations, loops),
        { cpuKey: unaryPhases.join('+') },
      );
      unaryPhases.forEach((name, i) => {
        if (name === 'check') result.check = measured?.[i];
        else result.getStatus = measured?.[i];
        if (!measured && result.errors[unaryPhases[0]!]) result.errors[name] = result.errors[unaryPhases[0]!];
      });
    }
    result.list = await phase('list', 'ListStreams', () => measureList(clients!, size, loops));
    result.dbus = await phase('dbus', 'direct D-Bus GetAll ×2', () => measureDirectDbus(fixture!.sandbox.busAddress, running, loops), {
      needsServer: false,
    });
    result.systemctl = await phase('systemctl', 'systemctl --user show', () =>
      measureSystemctl(running, {
        runs: options.systemctlRuns,
        maxMs: longMs,
        runtimeDir: fixture!.sandbox.runtimeDir,
        busAddress: fixture!.sandbox.busAddress,
      }),
      { needsServer: false },
    );
    result.startStop = await phase('startstop', 'Start+Stop cycles', () =>
      measureStartStop(clients!, fixture!.jobs, cycled, { cycles: options.cycles, maxMs: longMs }),
    );
    // Before the logs phase, whose daemon-reload (a unit of its own) costs systemd seconds at N = 3000.
    result.server.memoryBeforeWatch = await memory();
    // The peak from here on is the watch phase's (VmHWM starts again from the current RSS).
    await server.resetPeak().catch(() => undefined);
    result.watch = await phase('watch', `WatchStatus fan-out to ${options.watchers} watchers`, () =>
      measureWatch(
        {
          address: server!.address,
          port: server!.port,
          streams: fixture!.streams,
          triggerStream,
          manager: fixture!.manager,
          jobs: fixture!.jobs,
          bus: fixture!.bus,
          watchers: options.watchers,
          channels: options.watchChannels,
          processes: options.watchProcesses,
          batchInitial: options.watchSnapshot === 'batched',
          readyTimeoutMs: options.watchTimeoutMs,
          rounds: options.watchRounds,
        },
        () => server!.memory(),
      ),
    );
    result.logs = await phase('logs', `Logs tails and follow fan-out to ${options.logFollowers} followers`, () =>
      measureLogs({
        streams: clients!.streams,
        sandbox: fixture!.sandbox,
        manager: fixture!.manager,
        jobs: fixture!.jobs,
        serverPid: server!.pid,
        followers: options.logFollowers,
        rounds: options.watchRounds,
        seqCount: options.seqCount,
        durationMs: options.durationMs,
      }),
    );
    if (result.watch && !result.watch.available) progress(`N=${size}: WatchStatus not available: ${result.watch.reason}`);
  } catch (error) {
    result.errors.setup = errorText(error);
    if (!interrupt.signal.aborted) progress(`N=${size}: FAILED: ${errorText(error)}`);
  } finally {
    progress(`N=${size}: tearing down`);
    try {
      await teardown();
    } catch (error) {
      result.errors.teardown = errorText(error);
    }
    teardowns.delete(teardown);
    result.wallMs = performance.now() - started;
  }
  return result;
}

async function machineInfo(serverEntry: string): Promise<MachineInfo> {
  const output = async (file: string, args: string[], cwd = REPO_ROOT) => (await run(file, args, { cwd, timeout: 10_000 })).stdout.trim();
  const systemd = await output('systemctl', ['--version']).then(
    (text) => /^systemd (.*)$/m.exec(text)?.[1] ?? text.split('\n')[0] ?? '',
    () => 'unknown',
  );
  const grpcJs = await readFile(resolve(REPO_ROOT, 'node_modules/@grpc/grpc-js/package.json'), 'utf8').then(
    (text) => String((JSON.parse(text) as { version: unknown }).version),
    () => 'unknown',
  );
  // Read-only: the commit of the server measured (the repository its entry is in), and whether
  // its src/ or gen/ had uncommitted changes.
  const git = await output('git', ['rev-parse', '--show-toplevel'], dirname(serverEntry))
    .then((top) => Promise.all([output('git', ['rev-parse', 'HEAD'], top), output('git', ['status', '--porcelain', '--', 'src', 'gen'], top)]))
    .then(
      ([commit, status]) => ({ commit, dirty: status !== '' }),
      () => undefined,
    );
  const cpu = cpus();
  return {
    date: new Date().toISOString(),
    cpus: cpu.length,
    cpuModel: cpu[0]?.model.trim() ?? 'unknown',
    memoryBytes: totalmem(),
    loadAverage: loadavg(),
    kernel: release(),
    node: process.version,
    systemd,
    grpcJs,
    git,
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function main(): Promise<number> {
  let options: BenchOptions;
  try {
    const parsed = parseOptions(process.argv.slice(2), process.env, REPO_ROOT);
    if (parsed === 'help') {
      process.stdout.write(USAGE);
      return 0;
    }
    options = parsed;
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`bench: ${error.message}\n\n${USAGE}`);
    return 2;
  }

  const sizes: SizeResult[] = [];
  const machine = await machineInfo(options.serverEntry);
  const report = (interrupted: boolean): BenchReport => ({
    machine,
    options: { ...options, phases: [...options.phases] },
    sizes,
    targets: evaluateTargets(sizes, options),
    growth: growthOf(sizes),
    wallMs: performance.now() - runStarted,
    interrupted,
  });

  // Ctrl-C, SIGTERM or the total timeout: tear down what runs, print what we have, write nothing.
  const abort = (why: string, code: number) => {
    if (interrupt.signal.aborted) return;
    interrupt.abort();
    progress(`${why}: cleaning up`);
    const forced = setTimeout(() => process.exit(code), 20_000);
    // allSettled never rejects, and the exit in `finally` always runs: nothing is left to reject.
    void Promise.allSettled([...teardowns].map((teardown) => teardown())).then(() => {
      clearTimeout(forced);
      try {
        if (sizes.length) process.stdout.write(renderMarkdown(report(true)));
      } finally {
        process.exit(code);
      }
    });
  };
  process.on('SIGINT', () => abort('interrupted', 130));
  process.on('SIGTERM', () => abort('terminated', 143));
  setTimeout(() => abort(`total timeout of ${options.totalTimeoutMs / 1000} s`, 1), options.totalTimeoutMs).unref();

  if (options.soakMinutes !== undefined) {
    const soak = await runSoak({
      options,
      repoRoot: REPO_ROOT,
      machine,
      progress,
      interrupt: interrupt.signal,
      onTeardown: (teardown) => teardowns.add(teardown),
      startedPid: (pid) => startedPids.add(pid),
    });
    if (interrupt.signal.aborted) return 130;
    const leftovers = [...startedPids].filter(alive);
    if (leftovers.length) soak.errors.push(`processes still alive after teardown: ${leftovers.join(', ')}`);
    const markdown = renderSoak(soak);
    const written = await writeSoak(options.outDir, soak, markdown);
    process.stdout.write(markdown);
    progress(`wrote ${written.md} and ${written.json}`);
    return soak.errors.length || soak.hung.length || soak.mismatches.length ? 1 : 0;
  }

  progress(`sizes ${options.sizes.join(', ')}; phases ${[...options.phases].join(', ')}; ${options.concurrency} in flight for ${options.durationMs / 1000} s`);
  for (const size of options.sizes) {
    sizes.push(await runSize(size, options));
    if (interrupt.signal.aborted) return 130;
  }

  const leftovers = [...startedPids].filter(alive);
  const final = { ...report(false), leftoverPids: leftovers };
  const markdown = renderMarkdown(final);
  const written = await writeResults(final, markdown);
  process.stdout.write(markdown);
  progress(`wrote ${written.md} and ${written.json} in ${((performance.now() - runStarted) / 1000).toFixed(1)} s`);
  if (leftovers.length) progress(`processes still alive after teardown: ${leftovers.join(', ')}`);
  const failed = sizes.some((size) => Object.keys(size.errors).length > 0);
  return failed || leftovers.length ? 1 : 0;
}

process.exitCode = await main();
