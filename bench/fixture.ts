import { performance } from 'node:perf_hooks';
import { BusConnection, type Signal } from '../src/systemd/busConnection.js';
import { EmbeddedSystemd } from '../src/dev/embeddedSystemd.js';
import { SystemdManager } from '../src/systemd/manager.js';
import { mapLimit } from '../src/core/mapLimit.js';
import { withTimeout } from './measure.js';

export const TEAM = 'bench';
export const TEMPLATE = `lit-stream-${TEAM}@.service`;

/**
 * The team's template. StartLimitIntervalSec=0 turns off systemd's start rate limit (by default 5
 * starts in 10 s per unit): the bench starts the same few units many times a second.
 */
const TEMPLATE_UNIT = `[Unit]
Description=lit-stream bench worker %i
StartLimitIntervalSec=0

[Service]
Type=exec
ExecStart=/bin/sleep infinity
`;

const MANAGER = 'org.freedesktop.systemd1.Manager';
const JOB_REMOVED_MATCH = `type='signal',sender='org.freedesktop.systemd1',interface='${MANAGER}',member='JobRemoved'`;

export function unitOf(name: string): string {
  return `lit-stream-${TEAM}@${name}.service`;
}

/** A JobRemoved(id, job, unit, result) signal and when this process saw it (performance.now()). */
export interface JobRemoved {
  readonly unit: string;
  readonly job: string;
  readonly result: string;
  readonly at: number;
}

export interface Expectation {
  readonly promise: Promise<JobRemoved>;
  cancel(): void;
}

/**
 * The bench's own view of systemd's jobs, from its own bus connection: register an expectation for
 * a unit *before* enqueueing the job (systemd may signal JobRemoved before its StartUnit reply is
 * read), then await it. Each JobRemoved for a unit goes to the oldest expectation for that unit.
 */
export class JobSignals {
  private readonly waiting = new Map<string, ((job: JobRemoved) => void)[]>();

  private constructor(connection: BusConnection) {
    connection.on('signal', (signal: Signal) => {
      if (signal.member !== 'JobRemoved' || signal.interface !== MANAGER) return;
      const at = performance.now();
      const [, job, unit, result] = signal.body as [number, string, string, string];
      const queue = this.waiting.get(unit);
      const first = queue?.shift();
      if (queue?.length === 0) this.waiting.delete(unit);
      first?.({ unit, job, result, at });
    });
  }

  static async attach(connection: BusConnection, manager: SystemdManager): Promise<JobSignals> {
    const signals = new JobSignals(connection);
    await connection.addMatch(JOB_REMOVED_MATCH);
    await manager.Subscribe();
    return signals;
  }

  expect(unit: string, timeoutMs = 30_000): Expectation {
    let deliver!: (job: JobRemoved) => void;
    let timer: NodeJS.Timeout | undefined;
    const remove = () => {
      clearTimeout(timer);
      const queue = this.waiting.get(unit);
      const index = queue?.indexOf(deliver) ?? -1;
      if (queue && index >= 0) queue.splice(index, 1);
      if (queue?.length === 0) this.waiting.delete(unit);
    };
    const promise = new Promise<JobRemoved>((resolve, reject) => {
      deliver = (job) => {
        clearTimeout(timer);
        resolve(job);
      };
      timer = setTimeout(() => {
        remove();
        reject(new Error(`no JobRemoved for ${unit} within ${timeoutMs} ms`));
      }, timeoutMs);
    });
    const queue = this.waiting.get(unit) ?? [];
    queue.push(deliver);
    this.waiting.set(unit, queue);
    promise.catch(() => undefined); // a cancelled or abandoned expectation is not an unhandled rejection
    return { promise, cancel: remove };
  }

  /** Enqueues a job with `enqueue` and resolves with its JobRemoved; fails unless the result is `done`. */
  async run(unit: string, enqueue: () => Promise<unknown>, timeoutMs = 30_000): Promise<JobRemoved> {
    const expectation = this.expect(unit, timeoutMs);
    try {
      await enqueue();
    } catch (error) {
      expectation.cancel();
      throw error;
    }
    const job = await expectation.promise;
    if (job.result !== 'done') throw new Error(`job ${job.job} for ${unit} finished '${job.result}', not 'done'`);
    return job;
  }
}

export interface FixtureTimings {
  readonly bootMs: number;
  readonly declareMs: number;
  readonly startMs: number;
}

/**
 * An embedded systemd with team `bench`: N streams s0000… declared as symlinks to the template,
 * the even-numbered ones running. `bus` is the bench's own connection, subscribed to JobRemoved.
 */
export interface Fixture {
  readonly sandbox: EmbeddedSystemd;
  readonly bus: BusConnection;
  readonly manager: SystemdManager;
  readonly jobs: JobSignals;
  readonly streams: readonly string[];
  readonly running: readonly string[];
  readonly stopped: readonly string[];
  readonly systemdVersion: string;
  readonly timings: FixtureTimings;
  /** Closes the bus connection and shuts the sandbox down; idempotent. */
  close(): Promise<void>;
}

export interface FixtureOptions {
  readonly size: number;
  readonly startConcurrency: number;
  /** Called with the sandbox as soon as it exists, so an interrupt can tear it down. */
  readonly onBooted?: (sandbox: EmbeddedSystemd) => void;
  /** What the streams' names start with (default `s`: s0000…); hosts of a fleet bench differ by it. */
  readonly prefix?: string;
}

export async function bootFixture({ size, startConcurrency, onBooted, prefix = 's' }: FixtureOptions): Promise<Fixture> {
  const t0 = performance.now();
  const sandbox = await EmbeddedSystemd.boot();
  onBooted?.(sandbox);
  let bus: BusConnection | undefined;
  const close = async () => {
    bus?.close();
    await sandbox.shutdown();
  };
  try {
    const t1 = performance.now();
    const width = Math.max(4, String(size - 1).length);
    const streams = Array.from({ length: size }, (_, i) => `${prefix}${String(i).padStart(width, '0')}`);
    await sandbox.writeUnit(TEMPLATE, TEMPLATE_UNIT);
    await mapLimit(streams, 64, async (name) => {
      await sandbox.linkUnit(unitOf(name), TEMPLATE);
    });
    bus = await BusConnection.open(sandbox.busAddress);
    const manager = new SystemdManager(bus);
    await manager.Reload();
    const jobs = await JobSignals.attach(bus, manager);
    const t2 = performance.now();

    const running = streams.filter((_, i) => i % 2 === 0);
    const stopped = streams.filter((_, i) => i % 2 === 1);
    await mapLimit(running, startConcurrency, async (name) => {
      const unit = unitOf(name);
      await jobs.run(unit, () => manager.StartUnit(unit, 'replace'));
    });
    // Every start job finished `done`; check systemd agrees that exactly those units are active.
    const active = await manager.ListUnitsByPatterns(['active'], [`lit-stream-${TEAM}@*.service`]);
    const activeNames = new Set(active.map((unit) => unit.name));
    const wrong = running.filter((name) => !activeNames.has(unitOf(name)));
    if (wrong.length > 0 || activeNames.size !== running.length) {
      throw new Error(`after starting ${running.length} streams systemd has ${activeNames.size} active; not active: ${wrong.slice(0, 5).join(', ')}`);
    }
    const t3 = performance.now();
    const systemdVersion = String(await withTimeout(manager.getManagerProperty('Version'), 5_000, 'Manager.Version'));
    return {
      sandbox,
      bus,
      manager,
      jobs,
      streams,
      running,
      stopped,
      systemdVersion,
      timings: { bootMs: t1 - t0, declareMs: t2 - t1, startMs: t3 - t2 },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
