import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import { FleetBackend } from '../fleet/fleetBackend.js';
import { loadFleetFile } from '../fleet/fleetFile.js';
import { registerFleetMetrics } from '../fleet/fleetMetrics.js';
import { Membership } from '../fleet/membership.js';
import { TeamWatches } from '../fleet/teamWatches.js';
import { STREAM_SERVICE } from '../api/streamService.js';
import type { AccessControl } from '../rpc/accessControl.js';
import type { CallPipeline } from '../rpc/callPipeline.js';
import { HealthStatus } from '../rpc/health.js';
import { processMetrics } from '../rpc/metrics/serverMetrics.js';
import { type RpcOptions, RpcServer } from './rpcServer.js';

export interface GatewayOptions extends RpcOptions {
  /** The fleet file (YAML): hosts, discovery, per-host deadline, the gateway's TLS identity. */
  readonly fleetFile: string;
  readonly log: Logger;
}

export interface RunningGateway {
  readonly address: string;
  readonly health: HealthStatus;
  readonly access: AccessControl;
  readonly calls: CallPipeline;
  /** The fleet's hosts now (for tests and diagnostics). */
  readonly membership: Membership;
  /** The teams in use and their upstream watches (for tests and diagnostics). */
  readonly teams: TeamWatches;
  readonly metricsAddress?: string;
  /** Re-reads the access file and the fleet file (SIGHUP); a bad file is refused, the previous kept. */
  reload(): Promise<{ access: boolean; fleet: boolean }>;
  shutdown(graceMs?: number): Promise<void>;
}

/**
 * lit-streamd --fleet: the same StreamService (and health, reflection, access control, limits,
 * metrics: the same rpc layer) over the fleet's agents, with no systemd connection of its own.
 * Health is SERVING while at least one host answers SERVING, NOT_SERVING when none does.
 */
export async function startGateway(options: GatewayOptions): Promise<RunningGateway> {
  const { log } = options;
  const config = await loadFleetFile(options.fleetFile);
  const registry = new Registry();
  const rpc = await RpcServer.prepare(options, registry);
  const membership = new Membership(log);
  const teams = new TeamWatches(membership);
  registerFleetMetrics(registry, membership, teams);
  const health = new HealthStatus([STREAM_SERVICE]);
  const judgeHealth = () => health.setAll(membership.hosts.some((agent) => agent.serving));
  for (const event of ['serving', 'added', 'removed']) membership.on(event, judgeHealth);
  rpc.serve(new FleetBackend(membership, teams), health);

  // The gateway's own series only: it has no streams of its own (GET /metrics of each agent has theirs).
  const metricsEndpoint = await rpc.startMetrics(async (_readable, serverWide) => (serverWide ? (await processMetrics().metrics()) + (await registry.metrics()) : ''));
  let address: string;
  try {
    await membership.apply(config);
    address = await rpc.bind();
  } catch (error) {
    membership.close();
    teams.close();
    await metricsEndpoint?.close();
    throw error;
  }

  const reloadFleet = async () => {
    try {
      await membership.apply(await loadFleetFile(options.fleetFile));
      log.info({ fleetFile: options.fleetFile, hosts: membership.hosts.length }, 'fleet file reloaded');
      return true;
    } catch (error) {
      log.error({ fleetFile: options.fleetFile, err: (error as Error).message }, 'fleet file rejected; the previous one stays in force');
      return false;
    }
  };

  let stopping: Promise<void> | undefined;
  const shutdown = (graceMs = 10_000) =>
    (stopping ??= new Promise<void>((resolve) => {
      health.setAll(false);
      // Streams never end by themselves: end them (UNAVAILABLE); unary calls in flight may finish.
      rpc.calls.closeStreams();
      let finished = false;
      const finish = () => {
        if (finished) return;
        finished = true;
        clearTimeout(force);
        teams.close();
        membership.close();
        void Promise.allSettled([metricsEndpoint?.close()]).then(() => resolve());
      };
      const force = setTimeout(() => {
        rpc.server.forceShutdown();
        // grpc-js may never call tryShutdown's callback for a connection whose socket is gone but
        // whose HTTP/2 session never closed (grpc/grpc-node#1458): the shutdown does not wait.
        finish();
      }, graceMs);
      rpc.server.tryShutdown(finish);
    }));

  return {
    address,
    health,
    access: rpc.access,
    calls: rpc.calls,
    membership,
    teams,
    metricsAddress: metricsEndpoint?.address,
    reload: async () => ({ access: await rpc.reloadAccess(), fleet: await reloadFleet() }),
    shutdown,
  };
}
