import { EventEmitter, once } from 'node:events';
import { NotFoundError } from '../core/errors.js';
import {
  type HealthCheckResponse,
  HealthCheckResponse_ServingStatus as ServingStatus,
  type HealthServer,
} from '../../gen/grpc/health/v1/health.js';
import type { CallPipeline, MethodSpec } from './callPipeline.js';

export const HEALTH_SERVICE = 'grpc.health.v1.Health';

/** Health is open to everyone, so that probes need no credentials; probes call often, so its
 *  log lines are at debug level. */
const rpc = (method: string): MethodSpec => ({ service: HEALTH_SERVICE, method, access: 'open', quiet: true });

/**
 * grpc.health.v1.Health (gRPC health checking protocol, doc/health-checking.md): the overall
 * status `` and one per served service. Watchers get the current status at once and every change
 * after it.
 */
export class HealthStatus {
  private readonly statuses = new Map<string, ServingStatus>();
  private readonly changes = new EventEmitter();

  constructor(services: readonly string[]) {
    for (const service of ['', ...services]) this.statuses.set(service, ServingStatus.NOT_SERVING);
    this.changes.setMaxListeners(0);
  }

  /** Sets every service at once: they all stand or fall with systemd. */
  setAll(serving: boolean): void {
    const next = serving ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
    for (const service of this.statuses.keys()) this.statuses.set(service, next);
    this.changes.emit('change');
  }

  service(calls: CallPipeline): HealthServer {
    const statuses = this.statuses;
    const changes = this.changes;
    return {
      check: calls.unary(rpc('Check'), async (request) => {
        const current = statuses.get(request.service);
        if (current === undefined) throw new NotFoundError(`unknown service '${request.service}'`);
        return { status: current };
      }),
      // The current status at once, then each change (the protocol: send when it differs).
      watch: calls.serverStreaming(rpc('Watch'), async function* (request, { signal }) {
        let sent: ServingStatus | undefined;
        for (;;) {
          const current = statuses.get(request.service) ?? ServingStatus.SERVICE_UNKNOWN;
          if (current !== sent) yield { status: current } satisfies HealthCheckResponse;
          sent = current;
          await once(changes, 'change', { signal });
        }
      }),
      list: calls.unary(rpc('List'), async () => {
        const all: Record<string, HealthCheckResponse> = {};
        for (const [service, current] of statuses) all[service] = { status: current };
        return { statuses: all };
      }),
    };
  }
}
