import { status } from '@grpc/grpc-js';
import { Counter, Histogram, type Registry } from 'prom-client';
import type { CallObserver, CallType, MethodSpec, RefusalReason } from '../server/callPipeline.js';

/**
 * gRPC status codes by the names Go's `codes.Code.String()` gives them, which is what
 * go-grpc-middleware puts in `grpc_code` (note `Canceled`, one l): dashboards written for Go
 * services select on these exact strings.
 */
export const GO_CODE_NAMES: Readonly<Record<status, string>> = {
  [status.OK]: 'OK',
  [status.CANCELLED]: 'Canceled',
  [status.UNKNOWN]: 'Unknown',
  [status.INVALID_ARGUMENT]: 'InvalidArgument',
  [status.DEADLINE_EXCEEDED]: 'DeadlineExceeded',
  [status.NOT_FOUND]: 'NotFound',
  [status.ALREADY_EXISTS]: 'AlreadyExists',
  [status.PERMISSION_DENIED]: 'PermissionDenied',
  [status.RESOURCE_EXHAUSTED]: 'ResourceExhausted',
  [status.FAILED_PRECONDITION]: 'FailedPrecondition',
  [status.ABORTED]: 'Aborted',
  [status.OUT_OF_RANGE]: 'OutOfRange',
  [status.UNIMPLEMENTED]: 'Unimplemented',
  [status.INTERNAL]: 'Internal',
  [status.UNAVAILABLE]: 'Unavailable',
  [status.DATA_LOSS]: 'DataLoss',
  [status.UNAUTHENTICATED]: 'Unauthenticated',
};

/** Prometheus's default buckets (client_golang's DefBuckets), which go-grpc-middleware uses too. */
const HANDLING_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * The call pipeline's observer that counts calls under go-grpc-middleware's Prometheus names and
 * labels (providers/prometheus: `grpc_type`, `grpc_service`, `grpc_method`, `grpc_code`), so the
 * dashboards and alerts written for Go gRPC services work unchanged, plus
 * `lit_stream_refused_calls_total{reason}` for calls the pipeline turned away before their handler.
 */
export class GrpcMetrics implements CallObserver {
  private readonly startedTotal: Counter;
  private readonly handledTotal: Counter;
  private readonly handlingSeconds: Histogram;
  private readonly receivedTotal: Counter;
  private readonly sentTotal: Counter;
  private readonly refusedTotal: Counter;

  constructor(registry: Registry) {
    const labelNames = ['grpc_type', 'grpc_service', 'grpc_method'] as const;
    const registers = [registry];
    this.startedTotal = new Counter({ name: 'grpc_server_started_total', help: 'Total number of RPCs started on the server.', labelNames, registers });
    this.handledTotal = new Counter({
      name: 'grpc_server_handled_total',
      help: 'Total number of RPCs completed on the server, regardless of success or failure.',
      labelNames: [...labelNames, 'grpc_code'],
      registers,
    });
    this.handlingSeconds = new Histogram({
      name: 'grpc_server_handling_seconds',
      help: 'Histogram of response latency (seconds) of gRPC that had been application-level handled by the server (unary calls).',
      labelNames,
      buckets: HANDLING_BUCKETS,
      registers,
    });
    this.receivedTotal = new Counter({
      name: 'grpc_server_msg_received_total',
      help: 'Total number of RPC stream messages received on the server.',
      labelNames,
      registers,
    });
    this.sentTotal = new Counter({ name: 'grpc_server_msg_sent_total', help: 'Total number of gRPC stream messages sent by the server.', labelNames, registers });
    this.refusedTotal = new Counter({
      name: 'lit_stream_refused_calls_total',
      help: 'Calls refused before their handler ran, by reason: unauthenticated, permission_denied, invalid_argument, limit (too many calls or streams), shutting_down.',
      labelNames: ['reason'],
      registers,
    });
  }

  started(spec: MethodSpec, type: CallType): void {
    this.startedTotal.inc(labels(spec, type));
  }

  received(spec: MethodSpec, type: CallType): void {
    this.receivedTotal.inc(labels(spec, type));
  }

  sent(spec: MethodSpec, type: CallType): void {
    this.sentTotal.inc(labels(spec, type));
  }

  handled(spec: MethodSpec, type: CallType, code: status, seconds: number): void {
    this.handledTotal.inc({ ...labels(spec, type), grpc_code: GO_CODE_NAMES[code] ?? String(code) });
    // go-grpc-middleware times streams too; here a stream's duration says how long a watcher
    // stayed, not how fast the server answered, so only unary calls are timed.
    if (type === 'unary') this.handlingSeconds.observe(labels(spec, type), seconds);
  }

  refused(_spec: MethodSpec, _type: CallType, reason: RefusalReason): void {
    this.refusedTotal.inc({ reason });
  }
}

function labels(spec: MethodSpec, type: CallType) {
  return { grpc_type: type, grpc_service: spec.service, grpc_method: spec.method };
}
