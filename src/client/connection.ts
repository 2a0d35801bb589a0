import { type ChannelCredentials, credentials as grpcCredentials } from '@grpc/grpc-js';
import { StreamServiceClient } from '../../gen/lit/stream/v1/stream.js';

export const DEFAULT_ADDRESS = '127.0.0.1:50051';

export interface ConnectionOptions {
  /** `host:port` of lit-streamd; default `$LIT_STREAM_ADDR`, else 127.0.0.1:50051. */
  readonly address?: string;
  /** Channel credentials; default plaintext. */
  readonly credentials?: ChannelCredentials;
  /** A ready generated client to use instead of opening one. */
  readonly client?: StreamServiceClient;
  /** Deadline for each call in ms; default 10 s for reads and 120 s for start/stop/restart. */
  readonly deadlineMs?: number;
}

const shared = new Map<string, StreamServiceClient>();

/**
 * The generated client for these options. Without an explicit client or credentials, one channel per
 * address is shared by every Stream, so `new Stream(...)` in a loop costs no new connections.
 */
export function streamServiceClient(options: ConnectionOptions = {}): StreamServiceClient {
  if (options.client) return options.client;
  const address = options.address ?? process.env.LIT_STREAM_ADDR ?? DEFAULT_ADDRESS;
  if (options.credentials) return new StreamServiceClient(address, options.credentials);
  let client = shared.get(address);
  if (!client) {
    client = new StreamServiceClient(address, grpcCredentials.createInsecure());
    shared.set(address, client);
  }
  return client;
}

/** Closes the shared channels (e.g. before a test or a short script ends). */
export function closeSharedClients(): void {
  for (const client of shared.values()) client.close();
  shared.clear();
}
