import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './freePort.js';

/**
 * A real Prometheus server (Debian's `prometheus` package) for tests: loopback only, a temporary
 * config and data directory, and a short scrape interval, scraping the targets it is given. It is
 * queried over its HTTP API (https://prometheus.io/docs/prometheus/latest/querying/api/) and stopped
 * with SIGTERM (SIGKILL if it does not exit in time); its directory goes with it.
 */
export interface PrometheusServer {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  readonly pid: number;
  /** An instant query: the result vector, as Prometheus answers it. */
  query(expression: string): Promise<Sample[]>;
  /** The scrape targets and their health (`/api/v1/targets`). */
  targets(): Promise<Target[]>;
  /** What it printed so far (for failure messages). */
  readonly output: string;
  stop(): Promise<void>;
}

export interface Sample {
  readonly metric: Record<string, string>;
  /** Prometheus's [unix seconds, "value"]. */
  readonly value: [number, string];
}

export interface Target {
  readonly scrapeUrl: string;
  readonly health: 'up' | 'down' | 'unknown';
  readonly lastError: string;
}

export interface PrometheusOptions {
  /** `host:port` of each endpoint to scrape at /metrics. */
  readonly targets: readonly string[];
  /** Scrape interval (Prometheus duration). Default `500ms`. */
  readonly scrapeInterval?: string;
  /** Sent as `Authorization: Bearer` on scrapes. */
  readonly bearerToken?: string;
  readonly readyTimeoutMs?: number;
}

export async function startPrometheus(options: PrometheusOptions): Promise<PrometheusServer> {
  const dir = await mkdtemp(join(tmpdir(), 'lit-stream-prometheus-'));
  try {
    const interval = options.scrapeInterval ?? '500ms';
    const config = {
      global: { scrape_interval: interval, scrape_timeout: interval, evaluation_interval: interval },
      scrape_configs: [
        {
          job_name: 'lit-streamd',
          static_configs: [{ targets: options.targets }],
          ...(options.bearerToken ? { authorization: { credentials_file: join(dir, 'token') } } : {}),
        },
      ],
    };
    if (options.bearerToken) await writeFile(join(dir, 'token'), options.bearerToken, { mode: 0o600 });
    // JSON is YAML: no YAML writer needed.
    await writeFile(join(dir, 'prometheus.yml'), JSON.stringify(config));
    let lastError: unknown;
    // Another process may take the port between our probe and Prometheus's bind: try a few.
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        return await launch(dir, await freePort(), options.readyTimeoutMs ?? 30_000);
      } catch (error) {
        lastError = error;
        if (!/address already in use/.test(String((error as Error).message))) break;
      }
    }
    throw lastError;
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

async function launch(dir: string, port: number, readyTimeoutMs: number): Promise<PrometheusServer> {
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(
    'prometheus',
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      // Debian's defaults point the consoles at /etc/prometheus; nothing here uses them.
      `--web.console.templates=${join(dir, 'consoles')}`,
      `--web.console.libraries=${join(dir, 'console_libraries')}`,
      '--log.level=warn',
    ],
    { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-8000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const spawnFailed = new Promise<never>((_, reject) => child.once('error', reject));
  spawnFailed.catch(() => undefined);
  // Whatever happens to the test process, Prometheus does not outlive it.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      process.removeListener('exit', killOnExit);
      await rm(dir, { recursive: true, force: true });
    })());

  const api = async <T>(path: string): Promise<T> => {
    const response = await fetch(`${url}${path}`, { signal: AbortSignal.timeout(10_000) });
    const body = (await response.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`Prometheus ${path}: ${body.error ?? response.status}`);
    return body.data;
  };

  const waiting = new AbortController();
  try {
    await Promise.race([
      waitReady(url, readyTimeoutMs, () => output, waiting.signal),
      spawnFailed,
      exited.then(() => Promise.reject(new Error(`prometheus exited before it was ready:\n${output}`))),
    ]);
  } catch (error) {
    // Keep the directory for the caller's cleanup: stop() removes it, so only stop the process.
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
    process.removeListener('exit', killOnExit);
    throw error;
  } finally {
    waiting.abort();
  }
  return {
    url,
    pid: child.pid ?? 0,
    get output() {
      return output;
    },
    query: async (expression) =>
      (await api<{ resultType: string; result: Sample[] }>(`/api/v1/query?query=${encodeURIComponent(expression)}`)).result,
    targets: async () => (await api<{ activeTargets: Target[] }>('/api/v1/targets')).activeTargets,
    stop,
  };
}

/** `/-/ready` answers 200 once Prometheus has loaded its TSDB and config. */
async function waitReady(url: string, timeoutMs: number, output: () => string, cancelled: AbortSignal): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cancelled.aborted) {
    const ready = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(2_000) }).then(
      (response) => response.ok,
      () => false,
    );
    if (ready) return;
    if (Date.now() > deadline) throw new Error(`prometheus at ${url} not ready after ${timeoutMs} ms:\n${output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** `promtool check metrics` on an exposition text: its exit code and what it printed. */
export function promtoolCheckMetrics(text: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile('promtool', ['check', 'metrics'], { timeout: 30_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      if (error && typeof error.code !== 'number') return reject(new Error(`promtool could not run: ${error.message}`, { cause: error }));
      resolve({ code, output: `${stdout}${stderr}` });
    });
    child.stdin?.end(text);
  });
}
