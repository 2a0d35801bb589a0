import {
  type handleBidiStreamingCall,
  type handleServerStreamingCall,
  type handleUnaryCall,
  type ServerDuplexStream,
  status,
} from '@grpc/grpc-js';
import type { Writable } from 'node:stream';
import { untilAborted } from '../core/abortable.js';
import {
  CancelledError,
  DeadlineExceededError,
  InvalidArgumentError,
  PermissionDeniedError,
  ResourceExhaustedError,
  ServerShuttingDownError,
  UnauthenticatedError,
} from '../core/errors.js';
import type { AccessControl, Caller, CredentialSource } from './accessControl.js';
import { CallLimits } from './callLimits.js';
import { toGrpcStatus } from './grpcStatus.js';

/**
 * Why a call's signal aborts when the call has ended: one error for every call, since nobody reads
 * its stack and capturing one per call cost ~2 % of the server's CPU under GetStatus load (profile).
 */
const CALL_ENDED = new CancelledError('the call ended');

/**
 * What a call must prove before its handler runs:
 * - `team`: an identity whose role on the team its spec reads from the request (`team(request)`)
 *   allows the method;
 * - `identity`: any identity the access file knows (reflection: it describes the whole API);
 * - `open`: nothing (health, so probes work without credentials). Still counted against limits,
 *   per peer address.
 * Without an access file every caller is `anonymous` and allowed.
 */
export type AccessRule = 'team' | 'identity' | 'open';

/**
 * What the pipeline knows of one RPC: its name, who may call it, and what its log and audit lines
 * say. Made once per method (observers may key on the object). The pipeline itself knows no
 * service: each service describes its methods here.
 *
 * Methods, not function properties: a spec for one request type is then usable where any request
 * is (observers see `MethodSpec<unknown>`), as TypeScript checks method parameters bivariantly.
 */
export type MethodSpec<Req = unknown, Res = unknown> = MethodBasics<Req, Res> & (TeamAccess<Req> | OtherAccess);

interface MethodBasics<Req, Res> {
  /** Full service name, e.g. `lit.stream.v1.StreamService`. */
  readonly service: string;
  /** The RPC's short name, e.g. `Start`: what roles.ts, logs and metrics call it. */
  readonly method: string;
  /** Log the call at debug level (health probes), not info. */
  readonly quiet?: boolean;
  /**
   * What the call's log (and audit) line says of its request, e.g. `{ team, stream }`. The request
   * is untrusted input: cut what it copies short. Bidi streams have no single request: not called.
   */
  fields?(request: Req): Readonly<Record<string, string>>;
  /** Calls that change something write an audit line; `outcome` names what a successful one did. */
  readonly audit?: { outcome(response: Res): string };
}

interface TeamAccess<Req> {
  readonly access: 'team';
  /** The team the request is for, validated (throws InvalidArgumentError): what is authorized. */
  team(request: Req): string;
}

interface OtherAccess {
  readonly access: Exclude<AccessRule, 'team'>;
}

/** gRPC call types, as go-grpc-middleware's Prometheus provider labels them (`grpc_type`). */
export type CallType = 'unary' | 'server_stream' | 'bidi_stream';

/** What every handler knows about its call besides the request. */
export interface CallContext {
  readonly caller: Caller;
  /**
   * Aborts when the call should stop: the caller cancelled or its deadline passed
   * (CancelledError, DeadlineExceededError), its access was revoked (PermissionDeniedError,
   * UnauthenticatedError) or the server is shutting down (ServerShuttingDownError). Streaming
   * handlers end on it; `signal.reason` is what the caller is told.
   */
  readonly signal: AbortSignal;
  /** The caller's deadline, ms since the epoch; undefined when it set none. */
  readonly deadline?: number;
  /**
   * Whether the caller's role on the call's team would also allow `method` (an RPC's short name),
   * for answers that hold more than the method itself needs: GetStatus's log lines need what Logs
   * needs. False for calls not decided per team.
   */
  may(method: string): boolean;
}

export type UnaryHandler<Req, Res> = (request: Req, context: CallContext) => Promise<Res>;
/** A server-streaming handler yields its responses (or Buffers already encoded); the pipeline
 *  writes them with backpressure, so a handler is never ahead of its client by more than one. */
export type ServerStreamingHandler<Req, Res> = (request: Req, context: CallContext) => AsyncIterable<Res | Buffer>;
export type BidiStreamingHandler<Req, Res> = (requests: AsyncIterable<Req>, context: CallContext) => AsyncIterable<Res>;

/** Why a call was turned away before its handler ran. */
export type RefusalReason = 'unauthenticated' | 'permission_denied' | 'invalid_argument' | 'limit' | 'shutting_down';

/** How a call ended, as its observers are told. */
export interface EndedCall {
  readonly code: status;
  /** The status message sent with a code other than OK. */
  readonly details?: string;
  readonly seconds: number;
  /** The request of a unary or server-streaming call; undefined for bidi streams. */
  readonly request: unknown;
  /** A successful unary call's response. */
  readonly response?: unknown;
  /** Who called; undefined when the call was refused before it was known. */
  readonly caller: Caller | undefined;
  /** The server was already shutting down (closeStreams), so UNAVAILABLE is expected. */
  readonly shuttingDown: boolean;
}

/** Told of every call's life: the Prometheus metrics, the log line, the audit line. */
export interface CallObserver {
  started?(spec: MethodSpec, type: CallType): void;
  /** Each request message: the one of a unary or server-streaming call, each of a bidi stream. */
  received?(spec: MethodSpec, type: CallType): void;
  /** Each response message: a unary call's on success, each one a stream writes. */
  sent?(spec: MethodSpec, type: CallType): void;
  handled(spec: MethodSpec, type: CallType, call: EndedCall): void;
  /** The call was refused before its handler (it is `handled` too, with the refusal's code). */
  refused?(spec: MethodSpec, type: CallType, reason: RefusalReason): void;
}

export interface CallPipelineOptions {
  readonly access: AccessControl;
  readonly limits?: CallLimits;
  readonly observers?: readonly CallObserver[];
}

/** What the pipeline's calls share: collaborators, the open streams, whether it is closing. */
interface Shared {
  readonly access: AccessControl;
  readonly limits: CallLimits;
  readonly observers: readonly CallObserver[];
  readonly openStreams: Set<Lifecycle>;
  /** Set by closeStreams(): why new streams are refused. */
  closing: Error | undefined;
}

/** What the pipeline uses of any grpc-js server call, unary or streaming. */
interface AnyCall extends CredentialSource {
  /** Undefined for bidi streams, whose requests come as a stream. */
  readonly request?: unknown;
  getPeer(): string;
  getDeadline(): Date | number;
  on(event: 'cancelled', listener: () => void): unknown;
}

/**
 * The one path every RPC takes, unary and streaming alike (as nice-grpc composes middleware around
 * handlers): authentication, the call limits, authorization, the caller's deadline and cancellation
 * as an AbortSignal, the one error-to-status mapping, and the observers told of each call's life
 * (metrics, the log line: callLog.ts, the audit line: auditLog.ts). What a method needs beyond that
 * comes from its MethodSpec. Streaming responses are written with backpressure. Open streams are
 * tracked, so a reload of the access file can end the ones it no longer allows and a shutdown can
 * end them all.
 */
export class CallPipeline {
  private readonly shared: Shared;

  constructor(options: CallPipelineOptions) {
    this.shared = {
      access: options.access,
      limits: options.limits ?? new CallLimits(),
      observers: options.observers ?? [],
      openStreams: new Set(),
      closing: undefined,
    };
  }

  get limits(): CallLimits {
    return this.shared.limits;
  }

  unary<Req, Res>(spec: MethodSpec<NoInfer<Req>, NoInfer<Res>>, handler: UnaryHandler<Req, Res>): handleUnaryCall<Req, Res> {
    return (call, callback) => {
      const lifecycle = new Lifecycle(this.shared, spec, 'unary', call);
      lifecycle
        .run((context) => handler(call.request, context))
        .then(
          (response) => {
            lifecycle.sent();
            lifecycle.end(status.OK, undefined, response);
            callback(null, response);
          },
          (error: unknown) => {
            const grpcStatus = toGrpcStatus(error);
            // Counted as sent on errors too, as go-grpc-middleware's unary interceptor does
            // (PostMsgSend for every call), so grpc_server_msg_sent_total means what it means there.
            lifecycle.sent();
            lifecycle.end(grpcStatus.code, grpcStatus.details, undefined);
            callback(grpcStatus);
          },
        );
    };
  }

  serverStreaming<Req, Res>(spec: MethodSpec<NoInfer<Req>, NoInfer<Res>>, handler: ServerStreamingHandler<Req, Res>): handleServerStreamingCall<Req, Res> {
    return (call) => {
      const lifecycle = new Lifecycle(this.shared, spec, 'server_stream', call);
      void writeAll(lifecycle, call, (context) => handler(call.request, context));
    };
  }

  bidiStreaming<Req, Res>(spec: MethodSpec<NoInfer<Req>, NoInfer<Res>>, handler: BidiStreamingHandler<Req, Res>): handleBidiStreamingCall<Req, Res> {
    return (call) => {
      const lifecycle = new Lifecycle(this.shared, spec, 'bidi_stream', call);
      const requests = lifecycle.received(call);
      void writeAll(lifecycle, call, (context) => handler(requests, context));
    };
  }

  /** Re-decides every open stream's access (after SIGHUP reloaded the access file). */
  recheckAccess(): void {
    for (const stream of [...this.shared.openStreams]) stream.recheck();
  }

  /** Ends every open stream with UNAVAILABLE and refuses new ones: the server is going away. */
  closeStreams(reason = new ServerShuttingDownError('lit-streamd is shutting down; reconnect to another instance or retry')): void {
    this.shared.closing = reason;
    for (const stream of [...this.shared.openStreams]) stream.stop(reason);
  }

  /** Open streaming calls (for tests and diagnostics). */
  get streamCount(): number {
    return this.shared.openStreams.size;
  }
}

/**
 * Runs a streaming call: admits it, then writes what its handler yields, pulling the next answer
 * only once the client has taken the last one (backpressure), until the handler ends or the call's
 * signal aborts; then sends the status. Never rejects: every failure ends the call with its status.
 */
async function writeAll(lifecycle: Lifecycle, call: Writable, open: (context: CallContext) => AsyncIterable<unknown>): Promise<void> {
  try {
    await lifecycle.run(async (context) => {
      const iterator = open(context)[Symbol.asyncIterator]();
      try {
        for (;;) {
          const next = await untilAborted(iterator.next(), context.signal);
          if (next.done) break;
          lifecycle.sent();
          if (!call.write(next.value)) await untilAborted(drained(call), context.signal);
        }
      } finally {
        // Ends a generator parked at a `yield`; one awaiting something ends through the signal.
        void iterator.return?.()?.catch(() => undefined);
      }
    });
    lifecycle.end(status.OK);
    if (!call.writableEnded) call.end();
  } catch (error) {
    const grpcStatus = toGrpcStatus(error);
    lifecycle.end(grpcStatus.code, grpcStatus.details);
    if (!call.writableEnded && !call.destroyed) call.emit('error', grpcStatus);
  }
}

/** One call from admission to its status: the context its handler sees, and its log lines. */
class Lifecycle {
  private readonly startedAt = performance.now();
  private readonly abort = new AbortController();
  private readonly deadline: number | undefined;
  private caller: Caller | undefined;
  private release: (() => void) | undefined;
  private ended = false;

  constructor(
    private readonly shared: Shared,
    private readonly spec: MethodSpec,
    private readonly type: CallType,
    private readonly call: AnyCall,
  ) {
    const callDeadline = call.getDeadline();
    this.deadline = callDeadline instanceof Date ? callDeadline.getTime() : Number.isFinite(callDeadline) ? callDeadline : undefined;
    this.notify((observer) => observer.started?.(spec, type));
    // grpc-js calls a unary or server-streaming handler once the request has arrived.
    if (type !== 'bidi_stream') this.notify((observer) => observer.received?.(spec, type));
    // grpc-js cancels the call itself when the deadline passes, possibly before a timer of ours
    // fires: tell the two cases apart so the caller and the log see DEADLINE_EXCEEDED, not CANCELLED.
    call.on('cancelled', () =>
      this.stop(
        this.deadline !== undefined && Date.now() >= this.deadline
          ? new DeadlineExceededError(`the deadline passed while ${spec.method} was running`)
          : new CancelledError(`the caller cancelled ${spec.method}`),
      ),
    );
  }

  /** Admits the call, then runs `body` with its context; rejects with why the call failed. */
  async run<T>(body: (context: CallContext) => Promise<T>): Promise<T> {
    // Authentication, the limits, then authorization: all before the handler can reach systemd.
    let caller: Caller;
    try {
      caller = this.caller = this.identify();
      if (this.type !== 'unary' && this.shared.closing) throw this.shared.closing;
      this.release = this.shared.limits.admit(
        this.type === 'unary' ? 'unary' : 'stream',
        this.spec.access === 'open' ? { peer: peerHost(this.call.getPeer()) } : { identity: caller.label },
      );
      this.authorize(caller);
    } catch (error) {
      const reason = refusalReason(error);
      if (reason) this.notify((observer) => observer.refused?.(this.spec, this.type, reason));
      throw error;
    }
    if (this.type !== 'unary') this.shared.openStreams.add(this);
    if (this.abort.signal.aborted) throw this.abort.signal.reason;
    try {
      return await body({ caller, signal: this.abort.signal, deadline: this.deadline, may: (method) => this.may(caller, method) });
    } catch (error) {
      // A handler that stopped because of the signal may throw anything; the reason is the truth.
      throw this.abort.signal.aborted ? this.abort.signal.reason : error;
    }
  }

  /** The requests of a bidi stream, counted as they are read. */
  received<Req>(call: ServerDuplexStream<Req, unknown>): AsyncIterable<Req> {
    // Not the stream's own iterator: leaving it early would destroy the call, and with it the
    // status still to be sent.
    const requests = call.iterator({ destroyOnReturn: false }) as AsyncIterable<Req>;
    const received = () => this.notify((observer) => observer.received?.(this.spec, this.type));
    return {
      async *[Symbol.asyncIterator]() {
        for await (const request of requests) {
          received();
          yield request;
        }
      },
    };
  }

  sent(): void {
    this.notify((observer) => observer.sent?.(this.spec, this.type));
  }

  /** Ends the call's signal with `reason` (cancellation, revoked access, shutdown). */
  stop(reason: Error): void {
    if (!this.abort.signal.aborted) this.abort.abort(reason);
  }

  /** Decides access again, under a reloaded access file; stops the call if it no longer holds. */
  recheck(): void {
    if (this.spec.access === 'open') return;
    try {
      this.authorize(this.identify());
    } catch (error) {
      this.stop(error as Error);
    }
  }

  end(code: status, details?: string, response?: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.release?.();
    this.shared.openStreams.delete(this);
    this.stop(CALL_ENDED);
    const ended: EndedCall = {
      code,
      details,
      seconds: (performance.now() - this.startedAt) / 1000,
      request: this.call.request,
      response,
      caller: this.caller,
      shuttingDown: this.shared.closing !== undefined,
    };
    this.notify((observer) => observer.handled(this.spec, this.type, ended));
  }

  /** Who is calling: an identity from the access file, or for `open` methods the peer. */
  private identify(): Caller {
    // No identity to count against: count the peer (its address, without the port).
    if (this.spec.access === 'open') return { identity: undefined, label: `peer ${peerHost(this.call.getPeer())}` };
    return this.shared.access.authenticate(this.call);
  }

  /** Whether the caller may also call `method` for this call's team (see CallContext.may). */
  private may(caller: Caller, method: string): boolean {
    if (this.spec.access !== 'team') return false;
    try {
      this.shared.access.authorize(caller, this.spec.team(this.call.request), method);
      return true;
    } catch {
      return false;
    }
  }

  private authorize(caller: Caller): void {
    // `identity` needs nothing beyond authenticate(), which refuses unknown callers.
    if (this.spec.access === 'team') this.shared.access.authorize(caller, this.spec.team(this.call.request), this.spec.method);
  }

  private notify(tell: (observer: CallObserver) => void): void {
    for (const observer of this.shared.observers) tell(observer);
  }
}

/** The refusal an admission error stands for (undefined: a failure, not a refusal). */
function refusalReason(error: unknown): RefusalReason | undefined {
  if (error instanceof UnauthenticatedError) return 'unauthenticated';
  if (error instanceof PermissionDeniedError) return 'permission_denied';
  if (error instanceof InvalidArgumentError) return 'invalid_argument';
  if (error instanceof ResourceExhaustedError) return 'limit';
  if (error instanceof ServerShuttingDownError) return 'shutting_down';
  return undefined;
}

/** Resolves when the call can take more writes, or when it is closed (then nothing more goes out). */
function drained(call: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      call.off('drain', done);
      call.off('close', done);
      resolve();
    };
    call.on('drain', done);
    call.on('close', done);
  });
}

/** `ipv4:127.0.0.1:5000` / `[::1]:5000` / `127.0.0.1:5000` → the host part. */
function peerHost(peer: string): string {
  const withoutScheme = peer.replace(/^ipv[46]:/, '');
  const bracketed = /^\[([^\]]+)\]/.exec(withoutScheme);
  if (bracketed) return bracketed[1] ?? withoutScheme;
  const colon = withoutScheme.lastIndexOf(':');
  return colon > 0 && withoutScheme.indexOf(':') === colon ? withoutScheme.slice(0, colon) : withoutScheme;
}
