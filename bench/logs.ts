// The Logs phase (issue 8): tail latency of 10 and 1,000 lines, follow fan-out to 100 followers
// (a worker's line to every follower), and how many processes the server runs meanwhile.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Metadata, type ServiceError, status } from '@grpc/grpc-js';
import type { LogsRequest, LogsResponse, StreamServiceClient } from '../gen/lit/stream/v1/stream.js';
import type { EmbeddedSystemd } from '../src/dev/embeddedSystemd.js';
import { CALL_TIMEOUT_MS } from './clients.js';
import { type JobSignals, TEAM, unitOf } from './fixture.js';
import { type LatencyStats, sequential, summarize, withTimeout } from './measure.js';
import type { SystemdManager } from '../src/systemd/manager.js';

/** The stream the phase declares: it echoes each line the bench writes into its FIFO. */
const NAME = 'logs';
const FIFO = 'bench-logs.fifo';
/** %t is the manager's runtime directory; `$$` is a `$` in a unit file. */
const UNIT = `[Unit]
Description=lit-stream bench log writer

[Service]
Type=exec
ExecStart=/bin/sh -c 'exec 3<>%t/${FIFO}; while IFS= read -r line <&3; do printf "%%s\\n" "$$line"; done'
`;

/** Lines in the journal before the tails are timed: more than the longest tail. */
const FILL_LINES = 1_200;

export interface LogsPhaseOptions {
  readonly streams: StreamServiceClient;
  readonly sandbox: EmbeddedSystemd;
  readonly manager: SystemdManager;
  readonly jobs: JobSignals;
  readonly serverPid: number;
  readonly followers: number;
  readonly rounds: number;
  readonly seqCount: number;
  readonly durationMs: number;
}

export interface LogsResult {
  /** One Logs call of the newest 10 / 1,000 lines, from sending it to its end. */
  readonly tail10: LatencyStats;
  readonly tail1000: LatencyStats;
  readonly followers: number;
  /** Per round: from the bench writing a line to the worker, until the first / every follower had it. */
  readonly fanoutFirst: LatencyStats;
  readonly fanoutAll: LatencyStats;
  /** The server's processes (itself and its children) and its journalctl children: idle, while every follower follows, after they left. */
  readonly processes: { readonly idle: ProcessCount; readonly following: ProcessCount; readonly after: ProcessCount };
}

export interface ProcessCount {
  readonly total: number;
  readonly journalctl: number;
}

export async function measureLogs(options: LogsPhaseOptions): Promise<LogsResult> {
  const { streams, sandbox } = options;
  const unit = unitOf(NAME);
  const fifo = join(sandbox.runtimeDir, FIFO);
  execFileSync('mkfifo', [fifo]);
  await sandbox.writeUnit(unit, UNIT);
  await options.manager.Reload();
  await options.jobs.run(unit, () => options.manager.StartUnit(unit, 'replace'));
  const say = (lines: readonly string[]) => writeFile(fifo, lines.map((line) => `${line}\n`).join(''), { flag: 'a' });

  // The server knows the stream once it has seen the reload; then the journal has every fill line.
  await until(() => declared(streams), 30_000, 'the server to see the log stream');
  await say(Array.from({ length: FILL_LINES }, (_, i) => `fill ${i} ${'x'.repeat(60)}`));
  await until(async () => (await tail(streams, 1))[0]?.startsWith(`fill ${FILL_LINES - 1} `) ?? false, 30_000, 'the fill lines in the journal');

  const idle = countProcesses(options.serverPid);
  const limits = { maxCount: options.seqCount, maxMs: options.durationMs, minCount: 20 };
  const tail10 = await sequential(() => tail(streams, 10), limits);
  const tail1000 = await sequential(() => tail(streams, 1000), { ...limits, minCount: 10 });

  // Followers: each asks for its newest line first, which tells that it has joined.
  const received = Array.from({ length: options.followers }, () => new Map<string, number>());
  const calls = received.map((got) => {
    const call = streams.logs(request({ tailLines: 1, follow: true }), new Metadata());
    call.on('data', (response: LogsResponse) => {
      const at = performance.now();
      for (const entry of response.entries) if (!got.has(entry.message)) got.set(entry.message, at);
    });
    call.on('error', (error: ServiceError) => {
      if (error.code !== status.CANCELLED) got.set(`error: ${error.message}`, performance.now()); // ours
    });
    return call;
  });
  let following: ProcessCount;
  const first: number[] = [];
  const all: number[] = [];
  try {
    await until(() => received.every((got) => got.size > 0), 60_000, `${options.followers} followers to join`);
    following = countProcesses(options.serverPid);
    for (let round = 0; round < options.rounds; round++) {
      const line = `round ${round}`;
      const sent = performance.now();
      await say([line]);
      await until(() => received.every((got) => got.has(line)), 30_000, `round ${round} at every follower`);
      const times = received.map((got) => got.get(line)! - sent);
      first.push(Math.min(...times));
      all.push(Math.max(...times));
    }
  } finally {
    for (const call of calls) call.cancel();
  }
  await until(() => countProcesses(options.serverPid).journalctl === 0, 10_000, 'the shared journalctl to end').catch(() => undefined);
  const after = countProcesses(options.serverPid);
  return {
    tail10,
    tail1000,
    followers: options.followers,
    fanoutFirst: summarize(first),
    fanoutAll: summarize(all),
    processes: { idle, following, after },
  };
}

function request(partial: Partial<LogsRequest>): LogsRequest {
  return { team: TEAM, name: NAME, follow: false, afterCursor: '', ...partial };
}

/** The newest `lines` messages, by one Logs call. */
function tail(streams: StreamServiceClient, lines: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const messages: string[] = [];
    const call = streams.logs(request({ tailLines: lines }), new Metadata(), { deadline: Date.now() + CALL_TIMEOUT_MS });
    call.on('data', (response: LogsResponse) => messages.push(...response.entries.map((entry) => entry.message)));
    call.on('error', reject);
    call.on('end', () => resolve(messages.reverse()));
  });
}

function declared(streams: StreamServiceClient): Promise<boolean> {
  return tail(streams, 0).then(
    () => true,
    (error: ServiceError) => (error.code === status.NOT_FOUND ? false : Promise.reject(error)), // not seen yet
  );
}

async function until(probe: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  await withTimeout(
    (async () => {
      while (!(await probe())) await new Promise((resolve) => setTimeout(resolve, 10));
    })(),
    timeoutMs,
    `waiting for ${what}`,
  );
}

/** The server process and its descendants, from /proc (stat's 4th field is the parent pid). */
function countProcesses(serverPid: number): ProcessCount {
  const parents = new Map<number, { parent: number; comm: string }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const [, comm, rest] = /^\d+ \((.*)\) (.*)$/s.exec(readFileSync(`/proc/${entry}/stat`, 'utf8')) ?? [];
      if (comm !== undefined && rest !== undefined && !rest.startsWith('Z')) parents.set(Number(entry), { parent: Number(rest.split(' ')[1]), comm });
    } catch {
      // gone meanwhile
    }
  }
  const inTree = (pid: number): boolean => {
    for (let at = pid, hops = 0; at > 1 && hops < 64; hops++) {
      if (at === serverPid) return true;
      at = parents.get(at)?.parent ?? 0;
    }
    return false;
  };
  let total = 0;
  let journalctl = 0;
  for (const [pid, { comm }] of parents) {
    if (!inTree(pid)) continue;
    total++;
    if (comm === 'journalctl') journalctl++;
  }
  return { total, journalctl };
}
