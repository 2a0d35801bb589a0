import { Server, type ServerCredentials } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { StreamBackend } from '../core/backend.js';
import { HealthService } from '../../gen/grpc/health/v1/health.js';
import { STREAM_SERVICE, streamService } from '../api/streamService.js';
import { streamServiceDefinition } from '../api/streamServiceDefinition.js';
import { AccessControl } from '../rpc/accessControl.js';
import { CallLimits, DEFAULT_CALL_LIMITS, HTTP2_LIMITS } from '../rpc/callLimits.js';
import { AuditLog } from '../rpc/auditLog.js';
import { CallLog } from '../rpc/callLog.js';
import { CallPipeline, type CallObserver } from '../rpc/callPipeline.js';
import { HEALTH_SERVICE, type HealthStatus } from '../rpc/health.js';
import { type MetricsEndpoint, startMetricsEndpoint } from '../rpc/metrics/metricsEndpoint.js';
import { GrpcMetrics } from '../rpc/metrics/grpcMetrics.js';
import { REFLECTION_SERVICES, ReflectionIndex, reflectionService } from '../rpc/reflection.js';
import { afterBind, checkExposure, isUnixSocket, prepareListen, serverCredentials, type TransportOptions } from '../rpc/transport.js';

/** What every lit-streamd serves the same way, whichever backend runs the streams. */
export interface RpcOptions extends Omit<TransportOptions, 'accessControlled'> {
  /** `host:port` (port 0 picks a free one) or `unix:/path`. */
  readonly listen: string;
  readonly log: Logger;
  /** Serve gRPC server reflection (v1 and v1alpha). Default true. */
  readonly reflection?: boolean;
  /** Access file (JSON or YAML) of identities and roles; without one, loopback/unix only. */
  readonly accessFile?: string;
  /** Concurrent unary calls per identity. Default 64. */
  readonly maxCallsPerIdentity?: number;
  /** Open streaming calls per identity. Default 1024. */
  readonly maxStreamsPerIdentity?: number;
  /** Open streaming calls in all. Default 4096. */
  readonly maxStreams?: number;
  /** Told of every call (e.g. metrics). */
  readonly callObservers?: readonly CallObserver[];
  /** Largest request accepted, in bytes. Default 4 MiB (grpc's default). */
  readonly maxMessageBytes?: number;
  /** `host:port` to serve Prometheus metrics on (GET /metrics); none when undefined. */
  readonly metricsListen?: string;
}

/**
 * The rpc layer of one lit-streamd (src/rpc): access control, transport security, the call
 * pipeline with its limits and metrics, and the grpc-js server serving StreamService over a
 * backend, health and reflection. The local server and the fleet gateway both compose it.
 */
export class RpcServer {
  readonly server: Server;
  readonly calls: CallPipeline;

  private constructor(
    private readonly options: RpcOptions,
    readonly access: AccessControl,
    private readonly transport: TransportOptions,
    private readonly credentials: ServerCredentials,
    registry: Registry,
  ) {
    const maxMessageBytes = options.maxMessageBytes ?? 4 * 1024 * 1024;
    this.server = new Server({
      'grpc.max_receive_message_length': maxMessageBytes,
      'grpc.max_send_message_length': Math.max(maxMessageBytes, 16 * 1024 * 1024),
      ...HTTP2_LIMITS,
    });
    this.calls = new CallPipeline({
      access,
      limits: new CallLimits({
        maxCallsPerIdentity: options.maxCallsPerIdentity ?? DEFAULT_CALL_LIMITS.maxCallsPerIdentity,
        maxStreamsPerIdentity: options.maxStreamsPerIdentity ?? DEFAULT_CALL_LIMITS.maxStreamsPerIdentity,
        maxStreams: options.maxStreams ?? DEFAULT_CALL_LIMITS.maxStreams,
      }),
      observers: [new GrpcMetrics(registry), new CallLog(options.log), new AuditLog(options.log), ...(options.callObservers ?? [])],
    });
  }

  /** Loads the access file and the TLS material; refuses an exposure the options do not protect. */
  static async prepare(options: RpcOptions, registry: Registry): Promise<RpcServer> {
    const access = new AccessControl(options.accessFile, options.log);
    await access.load();
    const transport = { ...options, accessControlled: access.enabled };
    checkExposure(transport, options.log);
    return new RpcServer(options, access, transport, await serverCredentials(transport), registry);
  }

  /** StreamService over `backend`, health and (unless turned off) reflection. */
  serve(backend: StreamBackend, health: HealthStatus): void {
    this.server.addService(streamServiceDefinition(), streamService(backend, this.calls));
    this.server.addService(HealthService, health.service(this.calls));
    if (this.options.reflection ?? true) {
      const served = [STREAM_SERVICE, HEALTH_SERVICE, ...Object.values(REFLECTION_SERVICES).map((s) => s.name)];
      const index = new ReflectionIndex(served);
      for (const { name, definition } of Object.values(REFLECTION_SERVICES)) {
        this.server.addService(definition, reflectionService(index, this.calls, name));
      }
    }
  }

  /** GET /metrics when --metrics-listen was given, each caller seeing what `render` lets it. */
  async startMetrics(render: (readable: (team: string) => boolean, serverWide: boolean) => Promise<string>): Promise<MetricsEndpoint | undefined> {
    if (this.options.metricsListen === undefined) return undefined;
    return startMetricsEndpoint({ ...this.options, listen: this.options.metricsListen, access: this.access, log: this.options.log, render });
  }

  /** Binds the listen address; resolves with the address bound (e.g. `127.0.0.1:50051`). */
  async bind(): Promise<string> {
    const { listen } = this.options;
    await prepareListen(listen);
    const port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync(listen, this.credentials, (error, boundPort) =>
        error ? reject(new Error(`cannot listen on ${listen}: ${error.message}`)) : resolve(boundPort),
      ),
    );
    await afterBind(this.transport);
    return isUnixSocket(listen) ? listen : `${listen.slice(0, listen.lastIndexOf(':'))}:${port}`;
  }

  /** Re-reads the access file (SIGHUP) and ends open streams it no longer allows. */
  async reloadAccess(): Promise<boolean> {
    const reloaded = await this.access.reload();
    if (reloaded) this.calls.recheckAccess();
    return reloaded;
  }
}
