import { EventEmitter } from 'node:events';
import { Channel, type ChannelCredentials, type ClientReadableStream, Metadata, type ServiceError, status } from '@grpc/grpc-js';
import { type CallScope, ON_BEHALF_OF_METADATA } from '../core/backend.js';
import { HealthCheckResponse_ServingStatus as ServingStatus, HealthClient, type HealthCheckResponse } from '../../gen/grpc/health/v1/health.js';
import { StreamServiceClient } from '../../gen/lit/stream/v1/stream.js';
import { Backoff } from './backoff.js';
import { HostFailure } from './hostFailure.js';

export interface AgentOptions {
  readonly credentials: ChannelCredentials;
  /**
   * The fleet's per-host deadline, ms: how long a host may take inside a fan-out, and how long a
   * connection may stay silent (HTTP/2 keepalive) before its calls fail and it counts as gone.
   */
  readonly deadlineMs: number;
}

/** A unary method of the generated client, called with (request, metadata, options, callback). */
type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: { deadline?: number },
  callback: (error: ServiceError | null, response: Res) => void,
) => { cancel(): void };

/** What a call to a host runs under: the caller's limits and, in a fan-out, the per-host deadline. */
export interface HostCallScope extends CallScope {
  /** Also end the call at this time (ms since the epoch): the per-host deadline of a fan-out. */
  readonly hostDeadline?: number;
}

/**
 * One host's lit-streamd as the gateway reaches it: one HTTP/2 channel (mTLS with the gateway's
 * identity, or plaintext to a loopback or unix-socket agent) shared by its StreamService and
 * Health clients. The channel sends keepalive pings (gRPC keepalive, grpc.io "Keepalive"), so a
 * host that stops answering — frozen, or cut off — fails its open calls within about twice the
 * per-host deadline instead of holding them for ever. Health is watched all along
 * (grpc.health.v1.Health/Watch): `serving` says whether the host answers now.
 */
export class Agent extends EventEmitter {
  readonly streams: StreamServiceClient;
  private readonly health: HealthClient;
  private readonly channel: Channel;
  private healthCall: ClientReadableStream<HealthCheckResponse> | undefined;
  private readonly healthBackoff = new Backoff();
  private retry: NodeJS.Timeout | undefined;
  private closed = false;
  #serving = false;

  constructor(
    /** The gateway's name for the host. */
    readonly host: string,
    readonly address: string,
    readonly options: AgentOptions,
  ) {
    super();
    const silentMs = Math.max(1_000, options.deadlineMs);
    this.channel = new Channel(address, options.credentials, {
      'grpc.keepalive_time_ms': silentMs,
      'grpc.keepalive_timeout_ms': silentMs,
      // An agent that restarts is back within a second or two: look again soon, not after minutes.
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 2_000,
      'grpc.max_receive_message_length': 16 * 1024 * 1024,
    });
    this.streams = new StreamServiceClient(address, options.credentials, { channelOverride: this.channel });
    this.health = new HealthClient(address, options.credentials, { channelOverride: this.channel });
    this.watchHealth();
  }

  /** Whether the host's lit-streamd says SERVING now (it answers, and has its systemd). */
  get serving(): boolean {
    return this.#serving;
  }

  /** Calls a unary method of the host's StreamService; a failure is a HostFailure naming the host. */
  call<Req, Res>(method: UnaryMethod<Req, Res>, request: Req, scope: HostCallScope): Promise<Res> {
    const { deadline, byHost } = effectiveDeadline(scope);
    return new Promise<Res>((resolve, reject) => {
      const call = method.call(this.streams, request, this.metadata(scope), deadline === undefined ? {} : { deadline }, (error, response) => {
        scope.signal?.removeEventListener('abort', cancel);
        if (!error) return resolve(response);
        reject(byHost && error.code === status.DEADLINE_EXCEEDED ? this.missedDeadline() : HostFailure.from(this.host, error));
      });
      const cancel = () => call.cancel();
      if (scope.signal?.aborted) cancel();
      else scope.signal?.addEventListener('abort', cancel, { once: true });
    });
  }

  /** The failure of a host that did not answer within the per-host deadline. */
  missedDeadline(): HostFailure {
    return new HostFailure(this.host, 'DEADLINE_EXCEEDED', `did not answer within the fleet's per-host deadline (${this.options.deadlineMs} ms)`);
  }

  /** Metadata of a call made for `caller`: who it is for, so the agent applies that caller's rules. */
  metadata({ caller }: Pick<CallScope, 'caller'>): Metadata {
    const metadata = new Metadata();
    if (caller !== undefined) metadata.set(ON_BEHALF_OF_METADATA, caller);
    return metadata;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retry);
    this.healthCall?.cancel();
    this.setServing(false);
    this.streams.close();
    this.health.close();
    this.channel.close();
  }

  private watchHealth(): void {
    if (this.closed) return;
    const call = (this.healthCall = this.health.watch({ service: '' }));
    call.on('data', (response: HealthCheckResponse) => {
      this.healthBackoff.reset();
      this.setServing(response.status === ServingStatus.SERVING);
    });
    const again = () => {
      if (this.healthCall !== call) return;
      this.healthCall = undefined;
      this.setServing(false);
      if (!this.closed) this.retry = setTimeout(() => this.watchHealth(), this.healthBackoff.next());
    };
    call.on('error', again);
    call.on('end', again);
  }

  private setServing(serving: boolean): void {
    if (serving === this.#serving) return;
    this.#serving = serving;
    this.emit('serving', serving);
  }
}

/** The earlier of the caller's deadline and the per-host one, and whether it is the host's. */
function effectiveDeadline({ deadline, hostDeadline }: HostCallScope): { deadline?: number; byHost: boolean } {
  if (hostDeadline === undefined) return { deadline, byHost: false };
  if (deadline === undefined || hostDeadline < deadline) return { deadline: hostDeadline, byHost: true };
  return { deadline, byHost: false };
}
