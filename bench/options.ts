import { resolve } from 'node:path';
import { parseArgs } from 'node:util';

/** The measurements a run can make; `--phases` picks some of them. */
export const PHASES = ['idle', 'check', 'getstatus', 'list', 'dbus', 'systemctl', 'startstop', 'logs', 'watch'] as const;
export type Phase = (typeof PHASES)[number];

export interface BenchOptions {
  /** Numbers of declared streams, one full run (sandbox + server) each, in order. */
  readonly sizes: readonly number[];
  /** Wall time of each concurrent measurement, and the time bound of each sequential one. */
  readonly durationMs: number;
  /** Calls in flight in the concurrent measurements. */
  readonly concurrency: number;
  /** At most this many calls in a sequential measurement (fewer if `durationMs` runs out). */
  readonly seqCount: number;
  /** Start+Stop cycles (bounded by 3 × durationMs). */
  readonly cycles: number;
  /** `systemctl --user show` runs (bounded by 3 × durationMs). */
  readonly systemctlRuns: number;
  /** WatchStatus watchers, spread over `watchChannels` HTTP/2 connections. */
  readonly watchers: number;
  readonly watchChannels: number;
  /** Processes of their own the watchers run in (never the bench's). */
  readonly watchProcesses: number;
  /** How watchers ask for their snapshot: `batched` (batch_initial) or `single` (a message per stream). */
  readonly watchSnapshot: 'batched' | 'single';
  /** For every watcher to have its snapshot. */
  readonly watchTimeoutMs: number;
  /** Changes triggered (alternately start and stop of one stream) while everyone watches; also the
   *  lines timed in the logs phase's fan-out. */
  readonly watchRounds: number;
  /** Logs followers of one stream in the logs phase. */
  readonly logFollowers: number;
  /** How long the idle phase watches the server do nothing but its background work. */
  readonly idleMs: number;
  /** How many StartUnit jobs the fixture keeps in flight while it starts half the streams. */
  readonly startConcurrency: number;
  readonly phases: ReadonlySet<Phase>;
  /** lit-streamd's entry: a .ts file runs under `--import tsx`, a .js file (dist/) as it is. */
  readonly serverEntry: string;
  /** Extra node flags for the server, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile it. */
  readonly serverNodeArgs: readonly string[];
  readonly outDir: string;
  /** The whole run is aborted (and cleaned up) after this long. */
  readonly totalTimeoutMs: number;
  /** `--soak MINUTES`: run the soak (bench/soak.ts) instead of the measurements. */
  readonly soakMinutes?: number;
  /** Declared streams in the soak. */
  readonly soakStreams: number;
  /** How often the soak kills the bus daemon. */
  readonly soakBusRestartMs: number;
}

export const USAGE = `Usage: npm run bench -- [options]

Benchmarks lit-streamd against an embedded systemd with N declared streams (half running) and writes
bench/results/latest.{json,md}. Every option falls back to the environment variable shown.

  --sizes LIST            stream counts, one run each        BENCH_SIZES            10,100,1000,3000
  --duration SECONDS      per concurrent measurement         BENCH_DURATION         3
  --concurrency N         calls in flight                    BENCH_CONCURRENCY      64
  --seq-count N           max calls per sequential run       BENCH_SEQ_COUNT        2000
  --cycles N              Start+Stop cycles                  BENCH_CYCLES           200
  --systemctl-runs N      systemctl show runs                BENCH_SYSTEMCTL_RUNS   100
  --watchers N            WatchStatus watchers               BENCH_WATCHERS         1000
  --watch-channels N      HTTP/2 connections they share      BENCH_WATCH_CHANNELS   8
  --watch-processes N     processes the watchers run in      BENCH_WATCH_PROCESSES  2
  --watch-snapshot FORM   batched (batch_initial) or single  BENCH_WATCH_SNAPSHOT   batched
  --watch-timeout SECONDS for all watchers' snapshots        BENCH_WATCH_TIMEOUT    60
  --watch-rounds N        changes (and log lines) timed      BENCH_WATCH_ROUNDS     20
  --log-followers N       Logs followers of one stream       BENCH_LOG_FOLLOWERS    100
  --idle SECONDS          the idle phase (sampler's cost)    BENCH_IDLE             30
  --start-concurrency N   StartUnit jobs in flight (fixture) BENCH_START_CONCURRENCY 32
  --phases LIST           ${PHASES.join(',')}   BENCH_PHASES  all
  --server-entry FILE     lit-streamd entry                  BENCH_SERVER_ENTRY     src/daemon/cli.ts
  --server-node-args=ARGS node flags for the server        BENCH_SERVER_NODE_ARGS (none)
                          e.g. --server-node-args="--cpu-prof --cpu-prof-dir=/tmp/prof"
                          (profiles are written when the server exits, after each size)
  --out DIR               where results go                   BENCH_OUT              bench/results
  --timeout SECONDS       abort the whole run after          BENCH_TIMEOUT          1800 (soak: its length + 600)
  --soak MINUTES          instead: the soak, MINUTES of mixed load after a warm-up, its footprint at
                          start/middle/end; writes soak.{json,md}  BENCH_SOAK  (not run)
  --soak-streams N        declared streams in the soak       BENCH_SOAK_STREAMS     100
  --soak-bus-restart SECONDS  bus daemon killed every ...    BENCH_SOAK_BUS_RESTART 60
  -h, --help
`;

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export function parseOptions(argv: readonly string[], env: NodeJS.ProcessEnv, repoRoot: string): BenchOptions | 'help' {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        sizes: { type: 'string' },
        duration: { type: 'string' },
        concurrency: { type: 'string' },
        'seq-count': { type: 'string' },
        cycles: { type: 'string' },
        'systemctl-runs': { type: 'string' },
        watchers: { type: 'string' },
        'watch-channels': { type: 'string' },
        'watch-processes': { type: 'string' },
        idle: { type: 'string' },
        'watch-rounds': { type: 'string' },
        'log-followers': { type: 'string' },
        'watch-snapshot': { type: 'string' },
        'watch-timeout': { type: 'string' },
        'start-concurrency': { type: 'string' },
        phases: { type: 'string' },
        'server-entry': { type: 'string' },
        'server-node-args': { type: 'string' },
        out: { type: 'string' },
        timeout: { type: 'string' },
        soak: { type: 'string' },
        'soak-streams': { type: 'string' },
        'soak-bus-restart': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) return 'help';
  const pick = (flag: string, variable: string, fallback: string): [string, string] => {
    const fromFlag = (values as Record<string, string | boolean | undefined>)[flag];
    if (typeof fromFlag === 'string') return [`--${flag}`, fromFlag];
    const fromEnv = env[variable];
    return fromEnv ? [variable, fromEnv] : [`--${flag}`, fallback];
  };
  const int = (flag: string, variable: string, fallback: number, min = 1): number => {
    const [source, text] = pick(flag, variable, String(fallback));
    const value = Number(text);
    if (!Number.isInteger(value) || value < min) throw new UsageError(`${source} ${JSON.stringify(text)} is not an integer ≥ ${min}`);
    return value;
  };
  const seconds = (flag: string, variable: string, fallback: number): number => {
    const [source, text] = pick(flag, variable, String(fallback));
    const value = Number(text);
    if (!Number.isFinite(value) || value <= 0) throw new UsageError(`${source} ${JSON.stringify(text)} is not a positive number of seconds`);
    return Math.round(value * 1000);
  };

  // Defaults are relative to the repository, paths people give relative to where they are.
  const path = (flag: string, variable: string, fallback: string): string => {
    const [, text] = pick(flag, variable, '');
    return text === '' ? resolve(repoRoot, fallback) : resolve(process.cwd(), text);
  };

  const [sizesSource, sizesText] = pick('sizes', 'BENCH_SIZES', '10,100,1000,3000');
  const sizes = sizesText.split(',').map((part) => Number(part.trim()));
  // Names are s0000…s9999 and half of them run: at least 4 streams (2 running, 2 stopped).
  if (sizes.length === 0 || sizes.some((n) => !Number.isInteger(n) || n < 4 || n > 10_000)) {
    throw new UsageError(`${sizesSource} ${JSON.stringify(sizesText)} is not a list of integers 4–10000`);
  }

  const [phasesSource, phasesText] = pick('phases', 'BENCH_PHASES', 'all');
  const phases = new Set<Phase>();
  for (const part of phasesText.split(',').map((p) => p.trim().toLowerCase())) {
    if (part === 'all') PHASES.forEach((p) => phases.add(p));
    else if ((PHASES as readonly string[]).includes(part)) phases.add(part as Phase);
    else throw new UsageError(`${phasesSource}: unknown phase ${JSON.stringify(part)} (known: all, ${PHASES.join(', ')})`);
  }

  const [snapshotSource, snapshotText] = pick('watch-snapshot', 'BENCH_WATCH_SNAPSHOT', 'batched');
  if (snapshotText !== 'batched' && snapshotText !== 'single') {
    throw new UsageError(`${snapshotSource} ${JSON.stringify(snapshotText)} is not batched or single`);
  }

  const [soakSource, soakText] = pick('soak', 'BENCH_SOAK', '');
  const soakMinutes = soakText === '' ? undefined : Number(soakText);
  if (soakMinutes !== undefined && !(Number.isFinite(soakMinutes) && soakMinutes > 0)) {
    throw new UsageError(`${soakSource} ${JSON.stringify(soakText)} is not a positive number of minutes`);
  }

  return {
    sizes,
    durationMs: seconds('duration', 'BENCH_DURATION', 3),
    concurrency: int('concurrency', 'BENCH_CONCURRENCY', 64),
    seqCount: int('seq-count', 'BENCH_SEQ_COUNT', 2000),
    cycles: int('cycles', 'BENCH_CYCLES', 200),
    systemctlRuns: int('systemctl-runs', 'BENCH_SYSTEMCTL_RUNS', 100),
    watchers: int('watchers', 'BENCH_WATCHERS', 1000),
    watchChannels: int('watch-channels', 'BENCH_WATCH_CHANNELS', 8),
    watchProcesses: int('watch-processes', 'BENCH_WATCH_PROCESSES', 2),
    watchSnapshot: snapshotText,
    watchTimeoutMs: seconds('watch-timeout', 'BENCH_WATCH_TIMEOUT', 60),
    watchRounds: int('watch-rounds', 'BENCH_WATCH_ROUNDS', 20),
    logFollowers: int('log-followers', 'BENCH_LOG_FOLLOWERS', 100),
    idleMs: seconds('idle', 'BENCH_IDLE', 30),
    startConcurrency: int('start-concurrency', 'BENCH_START_CONCURRENCY', 32),
    phases,
    serverEntry: path('server-entry', 'BENCH_SERVER_ENTRY', 'src/daemon/cli.ts'),
    serverNodeArgs: pick('server-node-args', 'BENCH_SERVER_NODE_ARGS', '')[1].split(/\s+/).filter(Boolean),
    outDir: path('out', 'BENCH_OUT', 'bench/results'),
    totalTimeoutMs: seconds('timeout', 'BENCH_TIMEOUT', soakMinutes === undefined ? 1800 : soakMinutes * 60 + 600),
    soakMinutes,
    soakStreams: int('soak-streams', 'BENCH_SOAK_STREAMS', 100, 4),
    soakBusRestartMs: seconds('soak-bus-restart', 'BENCH_SOAK_BUS_RESTART', 60),
  };
}
