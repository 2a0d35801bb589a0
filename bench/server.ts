import { type ChildProcess, spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { credentials, Metadata } from '@grpc/grpc-js';
import { HealthCheckResponse_ServingStatus, HealthClient } from '../gen/grpc/health/v1/health.js';
import { withTimeout } from './measure.js';
import { freePort } from '../test/support/freePort.js';

/** Resident memory of a process from /proc/<pid>/status, in bytes. */
export interface Memory {
  /** VmRSS: resident now. */
  readonly rssBytes: number;
  /** VmHWM: the most it has ever been resident. */
  readonly peakBytes: number;
}

export interface ServerProcess {
  readonly pid: number;
  /** `127.0.0.1:PORT` */
  readonly address: string;
  readonly port: number;
  /** From spawn until Health reported SERVING. */
  readonly startupMs: number;
  memory(): Promise<Memory>;
  /** Starts VmHWM again from the current RSS (proc(5), /proc/<pid>/clear_refs "5"), so that the next peak is a phase's own. */
  resetPeak(): Promise<void>;
  /** How it ended, once it has (by itself or by stop()). */
  readonly exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  /** The last few KB of what it wrote to stdout and stderr. */
  readonly output: string;
  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`; idempotent. */
  stop(graceMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface ServerOptions {
  readonly entry: string;
  /** Extra node flags, before the entry. */
  readonly nodeArgs?: readonly string[];
  /** Extra lit-streamd options, after the ones the bench sets. */
  readonly extraArgs?: readonly string[];
  /** The systemd bus to drive; absent for a fleet gateway (`--fleet` in extraArgs). */
  readonly bus?: string;
  readonly cwd: string;
  readonly readyTimeoutMs?: number;
}

/**
 * lit-streamd as a child process, so that its memory and CPU are its own. It logs at `warn` (a log
 * line per RPC would be part of what is measured), so it prints no startup line: the bench picks
 * a free port itself and waits until grpc.health.v1.Health/Watch says SERVING (systemd connected).
 */
export async function startServer(options: ServerOptions): Promise<ServerProcess> {
  let lastError: unknown;
  // Another process may take the port between our probe and the server's bind: try a few.
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(options, await freePort());
    } catch (error) {
      lastError = error;
      if (!(error instanceof PortTakenError)) throw error;
    }
  }
  throw lastError;
}

class PortTakenError extends Error {}

async function startOnce(options: ServerOptions, port: number): Promise<ServerProcess> {
  const address = `127.0.0.1:${port}`;
  const loader = options.entry.endsWith('.ts') ? ['--import', 'tsx'] : [];
  const started = performance.now();
  const child = spawn(
    process.execPath,
    [
      ...(options.nodeArgs ?? []),
      ...loader,
      options.entry,
      '--listen',
      address,
      ...(options.bus === undefined ? [] : ['--bus', options.bus]),
      '--log-level',
      'warn',
      ...(options.extraArgs ?? []),
    ],
    { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  // Drain its output (a full pipe would block it) and keep the tail for error messages.
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve((exit = { code, signal }))),
  );
  // Whatever happens to the bench, the server does not outlive it.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  let stopping: Promise<{ code: number | null; signal: NodeJS.Signals | null }> | undefined;
  const stop = (graceMs = 10_000) =>
    (stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const inTime = await Promise.race([exited.then(() => true), delay(graceMs).then(() => false)]);
        if (!inTime) child.kill('SIGKILL');
      }
      const result = await exited;
      process.removeListener('exit', killOnExit);
      return result;
    })());

  const died = exited.then(({ code, signal }) => {
    const why = `lit-streamd exited (${signal ?? `code ${code}`}) before serving:\n${output.trim()}`;
    throw /cannot listen|EADDRINUSE/.test(output) ? new PortTakenError(why) : new Error(why);
  });
  died.catch(() => undefined); // only an error while we wait for it to serve
  try {
    await Promise.race([waitServing(address, options.readyTimeoutMs ?? 30_000), died]);
  } catch (error) {
    await stop(2_000);
    if (error instanceof Error && !error.message.includes('before serving') && output.trim()) {
      error.message += `\nserver output:\n${output.trim()}`;
    }
    throw error;
  }
  return {
    pid: child.pid ?? 0,
    address,
    port,
    startupMs: performance.now() - started,
    memory: () => readMemory(child),
    resetPeak: () => writeFile(`/proc/${child.pid}/clear_refs`, '5'),
    get exit() {
      return exit;
    },
    get output() {
      return output;
    },
    stop,
  };
}

/** Health.Watch until SERVING: the server is listening and connected to systemd. */
async function waitServing(address: string, timeoutMs: number): Promise<void> {
  const client = new HealthClient(address, credentials.createInsecure(), {
    // The server takes a moment to bind; do not wait grpc-js' default 1 s between attempts.
    'grpc.initial_reconnect_backoff_ms': 50,
    'grpc.max_reconnect_backoff_ms': 200,
  });
  try {
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        const call = client.watch({ service: '' }, new Metadata({ waitForReady: true }));
        call.on('data', (response: { status: HealthCheckResponse_ServingStatus }) => {
          if (response.status !== HealthCheckResponse_ServingStatus.SERVING) return;
          call.removeAllListeners('error');
          call.on('error', () => undefined); // the cancellation below
          call.cancel();
          resolve();
        });
        call.on('error', reject);
      }),
      timeoutMs,
      `lit-streamd at ${address} serving`,
    );
  } finally {
    client.close();
  }
}

async function readMemory(child: ChildProcess): Promise<Memory> {
  const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
  const kib = (field: string) => {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status);
    if (!match?.[1]) throw new Error(`no ${field} in /proc/${child.pid}/status`);
    return Number(match[1]) * 1024;
  };
  return { rssBytes: kib('VmRSS'), peakBytes: kib('VmHWM') };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
