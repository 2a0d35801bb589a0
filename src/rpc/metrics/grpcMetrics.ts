import { status } from '@grpc/grpc-js';
import { Counter, Histogram, type Registry } from 'prom-client';
import type { CallObserver, CallType, EndedCall, MethodSpec, RefusalReason } from '../callPipeline.js';

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

/** One method and call type's counts, as plain numbers. */
interface Tally {
  readonly labels: { grpc_type: CallType; grpc_service: string; grpc_method: string };
  started: number;
  received: number;
  sent: number;
  readonly handled: Map<status, number>;
}

/**
 * The call pipeline's observer that counts calls under go-grpc-middleware's Prometheus names and
 * labels (providers/prometheus: `grpc_type`, `grpc_service`, `grpc_method`, `grpc_code`), so the
 * dashboards and alerts written for Go gRPC services work unchanged, plus
 * `lit_stream_refused_calls_total{reason}` for calls the pipeline turned away before their handler.
 *
 * Counts are kept as plain numbers per method (MethodSpec objects are made once per method) and
 * handed to prom-client when scraped: a label lookup per message would cost a watch fan-out more
 * than writing the message.
 */
export class GrpcMetrics implements CallObserver {
  private readonly tallies = new Map<MethodSpec, Partial<Record<CallType, Tally>>>();
  private readonly handlingSeconds: Histogram;
  private readonly refusedTotal: Counter;

  constructor(registry: Registry) {
    const labelNames = ['grpc_type', 'grpc_service', 'grpc_method'] as const;
    const registers = [registry];
    const tallies = () => this.allTallies();
    const counter = (name: string, help: string, count: (tally: Tally) => number) =>
      new Counter({
        name,
        help,
        labelNames,
        registers,
        collect() {
          this.reset();
          for (const tally of tallies()) this.inc(tally.labels, count(tally));
        },
      });
    counter('grpc_server_started_total', 'Total number of RPCs started on the server.', (tally) => tally.started);
    new Counter({
      name: 'grpc_server_handled_total',
      help: 'Total number of RPCs completed on the server, regardless of success or failure.',
      labelNames: [...labelNames, 'grpc_code'],
      registers,
      collect() {
        this.reset();
        for (const tally of tallies()) {
          for (const [code, count] of tally.handled) this.inc({ ...tally.labels, grpc_code: GO_CODE_NAMES[code] ?? String(code) }, count);
        }
      },
    });
    this.handlingSeconds = new Histogram({
      name: 'grpc_server_handling_seconds',
      help: 'Histogram of response latency (seconds) of gRPC that had been application-level handled by the server (unary calls).',
      labelNames,
      buckets: HANDLING_BUCKETS,
      registers,
    });
    counter('grpc_server_msg_received_total', 'Total number of RPC stream messages received on the server.', (tally) => tally.received);
    counter('grpc_server_msg_sent_total', 'Total number of gRPC stream messages sent by the server.', (tally) => tally.sent);
    this.refusedTotal = new Counter({
      name: 'lit_stream_refused_calls_total',
      help: 'Calls refused before their handler ran, by reason: unauthenticated, permission_denied, invalid_argument, limit (too many calls or streams), shutting_down.',
      labelNames: ['reason'],
      registers,
    });
  }

  started(spec: MethodSpec, type: CallType): void {
    this.tally(spec, type).started++;
  }

  received(spec: MethodSpec, type: CallType): void {
    this.tally(spec, type).received++;
  }

  sent(spec: MethodSpec, type: CallType): void {
    this.tally(spec, type).sent++;
  }

  handled(spec: MethodSpec, type: CallType, { code, seconds }: EndedCall): void {
    const tally = this.tally(spec, type);
    tally.handled.set(code, (tally.handled.get(code) ?? 0) + 1);
    // go-grpc-middleware times streams too; here a stream's duration says how long a watcher
    // stayed, not how fast the server answered, so only unary calls are timed.
    if (type === 'unary') this.handlingSeconds.observe(tally.labels, seconds);
  }

  refused(_spec: MethodSpec, _type: CallType, reason: RefusalReason): void {
    this.refusedTotal.inc({ reason });
  }

  private tally(spec: MethodSpec, type: CallType): Tally {
    let byType = this.tallies.get(spec);
    if (!byType) this.tallies.set(spec, (byType = {}));
    return (byType[type] ??= {
      labels: { grpc_type: type, grpc_service: spec.service, grpc_method: spec.method },
      started: 0,
      received: 0,
      sent: 0,
      handled: new Map(),
    });
  }

  private *allTallies(): Iterable<Tally> {
    for (const byType of this.tallies.values()) yield* Object.values(byType);
  }
}
