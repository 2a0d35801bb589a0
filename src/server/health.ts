import { type ServerWritableStream, status } from '@grpc/grpc-js';
import {
  type HealthCheckRequest,
  type HealthCheckResponse,
  HealthCheckResponse_ServingStatus as ServingStatus,
  type HealthServer,
} from '../../gen/grpc/health/v1/health.js';

/**
 * grpc.health.v1.Health (gRPC health checking protocol, doc/health-checking.md): the overall
 * status `` and one per served service. Watchers get the current status at once and every change
 * after it.
 */
export class HealthStatus {
  private readonly statuses = new Map<string, ServingStatus>();
  private readonly watchers = new Set<ServerWritableStream<HealthCheckRequest, HealthCheckResponse>>();

  constructor(services: readonly string[]) {
    for (const service of ['', ...services]) this.statuses.set(service, ServingStatus.NOT_SERVING);
  }

  /** Sets every service at once: they all stand or fall with the bus. */
  setAll(serving: boolean): void {
    const next = serving ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
    for (const service of this.statuses.keys()) this.statuses.set(service, next);
    for (const watcher of this.watchers) this.send(watcher);
  }

  service(): HealthServer {
    return {
      check: (call, callback) => {
        const current = this.statuses.get(call.request.service);
        if (current === undefined) {
          callback({ code: status.NOT_FOUND, details: `unknown service '${call.request.service}'` });
        } else {
          callback(null, { status: current });
        }
      },
      watch: (call) => {
        this.watchers.add(call);
        call.on('cancelled', () => this.watchers.delete(call));
        this.send(call);
      },
      list: (_call, callback) => {
        const statuses: Record<string, HealthCheckResponse> = {};
        for (const [service, current] of this.statuses) statuses[service] = { status: current };
        callback(null, { statuses });
      },
    };
  }

  /** Ends watch calls so a graceful shutdown is not held open by them. */
  endWatches(): void {
    for (const watcher of this.watchers) watcher.end();
    this.watchers.clear();
  }

  private send(call: ServerWritableStream<HealthCheckRequest, HealthCheckResponse>): void {
    call.write({ status: this.statuses.get(call.request.service) ?? ServingStatus.SERVICE_UNKNOWN });
  }
}
