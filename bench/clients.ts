import { type CallOptions, Channel, type ChannelOptions, credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import { readFile } from 'node:fs/promises';
import { HealthClient } from '../gen/grpc/health/v1/health.js';
import { StreamServiceClient } from '../gen/lit/stream/v1/stream.js';

/** Every unary call gets a deadline: a stuck server fails the measurement instead of hanging it. */
export const CALL_TIMEOUT_MS = 30_000;

export interface Clients {
  readonly health: HealthClient;
  readonly streams: StreamServiceClient;
  close(): void;
}

/**
 * A HealthClient and a StreamServiceClient over one channel of their own (`id` keeps it apart from
 * every other channel: grpc-js would otherwise share one HTTP/2 connection between channels to the
 * same address), so that Check and GetStatus are measured over the same connection.
 */
export function openClients(address: string, id: string): Clients {
  const channel = openChannel(address, id);
  const health = new HealthClient(address, credentials.createInsecure(), { channelOverride: channel });
  const streams = new StreamServiceClient(address, credentials.createInsecure(), { channelOverride: channel });
  return {
    health,
    streams,
    close() {
      health.close();
      streams.close();
      channel.close();
    },
  };
}

/** A channel with its own subchannel pool, i.e. its own TCP connection. */
export function openChannel(address: string, id: string, extra: ChannelOptions = {}): Channel {
  return new Channel(address, credentials.createInsecure(), {
    'grpc.use_local_subchannel_pool': 1,
    'lit-stream.bench.channel': id,
    ...extra,
  });
}

type Callback<Res> = (error: ServiceError | null, response: Res) => void;

/**
 * Promise over a generated unary method:
 * `unary<GetStatusResponse>((md, options, cb) => client.getStatus(request, md, options, cb))`.
 */
export function unary<Res>(
  invoke: (metadata: Metadata, options: Partial<CallOptions>, callback: Callback<Res>) => unknown,
  timeoutMs = CALL_TIMEOUT_MS,
): Promise<Res> {
  return new Promise<Res>((resolve, reject) => {
    invoke(new Metadata(), { deadline: Date.now() + timeoutMs }, (error, response) => (error ? reject(error) : resolve(response)));
  });
}

/** Established TCP connections the server has accepted on `port` (from /proc/net/tcp). */
export async function acceptedConnections(port: number): Promise<number> {
  const portHex = port.toString(16).toUpperCase().padStart(4, '0');
  let count = 0;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const table = await readFile(file, 'utf8').catch(() => '');
    for (const line of table.split('\n').slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      if (state === '01' && local?.endsWith(`:${portHex}`)) count++;
    }
  }
  return count;
}

export function isServiceError(error: unknown): error is ServiceError {
  return typeof error === 'object' && error !== null && typeof (error as ServiceError).code === 'number';
}
