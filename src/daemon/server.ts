import { hostname } from 'node:os';
import { DEFAULT_JOURNAL_BUDGET, JournalBudget } from '../control/journalBudget.js';
import { JournalReader } from '../control/journalReader.js';
import { LocalBackend } from '../control/localBackend.js';
import { RunLines } from '../control/runLines.js';
import { LinkPort } from '../control/systemdPort.js';
import { StreamController } from '../control/streamController.js';
import { StreamLogs } from '../control/streamLogs.js';
import { StreamRuns } from '../control/streamRuns.js';
import { StreamView } from '../control/streamView.js';
import type { JournalSource } from '../systemd/journalctl.js';
import { JournalFollowers } from '../systemd/journalFollowers.js';
import type { UnitNaming } from '../core/unitNaming.js';
import { processMetrics, ServerMetrics } from '../rpc/metrics/serverMetrics.js';
import { streamMetrics } from '../control/streamMetrics.js';
import { SystemdLink } from '../systemd/systemdLink.js';
import type { LivenessOptions } from '../systemd/systemdSession.js';
import type { SamplingOptions } from '../systemd/usageSampler.js';
import type { AccessControl } from '../rpc/accessControl.js';
import type { CallPipeline } from '../rpc/callPipeline.js';
import { HealthStatus } from '../rpc/health.js';
import { STREAM_SERVICE } from '../api/streamService.js';
import { type RpcOptions, RpcServer } from './rpcServer.js';

export { STREAM_SERVICE };

/** After the grace period, how long callers told their job is still running in systemd have to
 *  receive that answer before the connections are cut. */
const ANSWER_FLUSH_MS = 500;

export interface ServerOptions extends RpcOptions {
  /** `system`, `session` or a D-Bus address. */
  readonly bus: string;
  readonly naming: UnitNaming;
  /**
   * Where the streams' journal is: a directory of journal files (the embedded systemd's), or the
   * system journal when absent. Units of the system manager (`bus` system) are matched as system
   * units, others as user units.
   */
  readonly journalDirectory?: string;
  /** journalctl processes in all (reads, and one follower per followed stream). Default 64. */
  readonly maxJournalctl?: number;
  /** journalctl reads in flight, and streams followed, per identity. Default 8. */
  readonly maxJournalctlPerIdentity?: number;
  /** How long a started worker must hold before Start/Restart succeed, ms (0: off). Default 1000. */
  readonly settleMs?: number;
  /** How systemd's liveness is probed (ping interval, how long it may not answer). */
  readonly systemdLiveness?: LivenessOptions;
  /** How often running streams' tasks and memory are read, within what share of time (DEFAULT_SAMPLING). */
  readonly usageSampling?: SamplingOptions;
  /** This host's name in answers (`host`). Default: the machine's host name. */
  readonly hostName?: string;
}

export interface RunningServer {
  /** The address actually bound, e.g. `127.0.0.1:50051`. */
  readonly address: string;
  readonly link: SystemdLink;
  readonly health: HealthStatus;
  /** The in-memory view of the streams (for tests and diagnostics). */
  readonly view: StreamView;
  /** The stream operations, with their per-stream action queue (for tests and diagnostics). */
  readonly controller: StreamController;
  readonly access: AccessControl;
  /** Where GET /metrics is served, when --metrics-listen was given. */
  readonly metricsAddress?: string;
  /** Every call's path: limits, auth, logging (for tests and diagnostics). */
  readonly calls: CallPipeline;
  /** The shared journalctl --follow processes, one per followed stream (for tests and diagnostics). */
  readonly journalFollowers: JournalFollowers;
  /** Re-reads the access file (SIGHUP) and ends open streams it no longer allows. */
  reloadAccess(): Promise<boolean>;
  /** Stops taking calls, lets in-flight calls finish (up to `graceMs`), then closes the bus. */
  shutdown(graceMs?: number): Promise<void>;
}

/**
 * lit-streamd: connects to systemd (and keeps reconnecting), serves StreamService, health and
 * reflection on one grpc-js server. Health is SERVING exactly while the bus is connected.
 */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const { log } = options;
  // The link is the one owner of the session with systemd; health, the view and the controller
  // ask it and are told when the session is replaced. (It connects only at link.start().)
  const link = new SystemdLink(options.bus, log, { liveness: options.systemdLiveness });
  // (view and followers are made below; read only when scraped.)
  const metrics = new ServerMetrics({ link, openWatches: () => view.watcherCount, logFollowers: () => followers.processes });
  const rpc = await RpcServer.prepare(options, metrics.registry);
  const { server, calls, access } = rpc;
  const health = new HealthStatus([STREAM_SERVICE]);
  link.on('up', () => health.setAll(true));
  link.on('down', () => health.setAll(false));
  const view = new StreamView(options.naming, link, log, options.usageSampling);

  const journal: JournalSource = { directory: options.journalDirectory, manager: options.bus === 'system' ? 'system' : 'user' };
  const followers = new JournalFollowers(journal);
  const budget = new JournalBudget({
    total: options.maxJournalctl ?? DEFAULT_JOURNAL_BUDGET.total,
    perIdentity: options.maxJournalctlPerIdentity ?? DEFAULT_JOURNAL_BUDGET.perIdentity,
    waitMs: DEFAULT_JOURNAL_BUDGET.waitMs,
  });
  const reader = new JournalReader(journal, budget);
  const logs = new StreamLogs(reader, followers, options.naming, view);
  const systemd = new LinkPort(link);
  const readUnit = (unit: string) => systemd.getUnitProperties(unit);
  const runs = new StreamRuns(reader, view, readUnit);
  const runLines = new RunLines(logs, view, readUnit, runs);
  const controller = new StreamController(systemd, options.naming, view, {
    lines: runLines,
    settleMs: options.settleMs,
    scope: options.bus === 'system' ? 'system' : 'user',
  });
  rpc.serve(new LocalBackend(controller, view, logs, runLines, runs, options.hostName ?? hostname()), health);

  const metricsEndpoint = await rpc.startMetrics(
    async (readable: (team: string) => boolean, serverWide: boolean) =>
      (serverWide ? (await processMetrics().metrics()) + (await metrics.registry.metrics()) : '') + (await streamMetrics(view, readable)),
  );
  const address = await rpc.bind().catch(async (error: unknown) => {
    await metricsEndpoint?.close();
    throw error;
  });
  await link.start();

  let stopping: Promise<void> | undefined;
  const shutdown = (graceMs = 10_000) =>
    (stopping ??= new Promise<void>((resolve) => {
      health.setAll(false);
      // Streams never end by themselves: end them (UNAVAILABLE), so they neither hold the
      // shutdown nor keep their listeners in the view; unary calls in flight may finish.
      calls.closeStreams();
      // Ends every journalctl --follow, and with them the calls following logs.
      const followersClosed = followers.close();
      // Actions not yet sent to systemd never will be; those whose job runs get the grace period,
      // then their callers are told it is still running in systemd, and a moment to hear it.
      controller.closeActions();
      let finished = false;
      const finish = () => {
        if (finished) return;
        finished = true;
        clearTimeout(force);
        view.close();
        link.close();
        // allSettled: the shutdown ends even if closing one of them failed.
        void Promise.allSettled([metricsEndpoint?.close(), followersClosed]).then(() => resolve());
      };
      let force = setTimeout(() => {
        controller.abandonActions();
        force = setTimeout(() => {
          server.forceShutdown();
          // grpc-js may never call tryShutdown's callback, even after forceShutdown, for a
          // connection whose socket is gone but whose HTTP/2 session never closed — e.g. a TLS
          // client that knocked on a plaintext port (grpc/grpc-node#1458): shutdown must not
          // wait for it.
          finish();
        }, ANSWER_FLUSH_MS);
      }, graceMs);
      server.tryShutdown(finish);
    }));

  return {
    address,
    link,
    health,
    view,
    controller,
    access,
    calls,
    journalFollowers: followers,
    reloadAccess: () => rpc.reloadAccess(),
    metricsAddress: metricsEndpoint?.address,
    shutdown,
  };
}
