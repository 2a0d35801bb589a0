import { readFileSync } from 'node:fs';
import { type ChannelCredentials, credentials as grpcCredentials, Metadata } from '@grpc/grpc-js';
import { StreamServiceClient } from './gen/lit/stream/v1/stream.js';

/** Where the client calls without an address or LIT_STREAM_ADDR: where lit-streamd listens by
 *  default, as the Python client's DEFAULT_ADDRESS (clients/testdata/defaults.json holds the three). */
export const DEFAULT_ADDRESS = '127.0.0.1:50051';

/** TLS material as PEM. */
export interface TlsOptions {
  /** CA that signed the server's certificate; default: the system's trusted CAs. */
  readonly ca?: Buffer | string;
  /** Client certificate and key, for mTLS. */
  readonly cert?: Buffer | string;
  readonly key?: Buffer | string;
}

export interface ConnectionOptions {
  /** `host:port` or `unix:/path` of lit-streamd; default `$LIT_STREAM_ADDR`, else 127.0.0.1:50051. */
  readonly address?: string;
  /** Bearer token sent with every call; default `$LIT_STREAM_TOKEN`. */
  readonly token?: string;
  /** TLS (and mTLS) material; default from the files named by `$LIT_STREAM_CA`, `$LIT_STREAM_CERT`, `$LIT_STREAM_KEY`. */
  readonly tls?: TlsOptions;
  /** Channel credentials, instead of `tls`. */
  readonly credentials?: ChannelCredentials;
  /** A ready generated client to use instead of opening one. */
  readonly client?: StreamServiceClient;
  /**
   * Deadline for each call in ms; default 10 s for reads (logs() without `follow` included) and
   * 120 s for start/stop/restart. Not for watches and log follows, which run until the loop is left.
   */
  readonly deadlineMs?: number;
}

const shared = new Map<string, StreamServiceClient>();

/**
 * The generated client for these options. Without an explicit client or credentials, one channel per
 * address and TLS setting is shared by every Stream, so `new Stream(...)` in a loop costs no new
 * connections.
 */
export function streamServiceClient(options: ConnectionOptions = {}): StreamServiceClient {
  if (options.client) return options.client;
  const address = options.address ?? env('LIT_STREAM_ADDR') ?? DEFAULT_ADDRESS;
  if (options.credentials) return new StreamServiceClient(address, options.credentials);
  const tls = options.tls ?? tlsFromEnvironment();
  const key = `${address}|${tls ? JSON.stringify([tls.ca, tls.cert, tls.key].map(String)) : 'plaintext'}`;
  let client = shared.get(key);
  if (!client) {
    client = new StreamServiceClient(address, tls ? sslCredentials(tls) : grpcCredentials.createInsecure());
    shared.set(key, client);
  }
  return client;
}

/** Call metadata: the bearer token, when there is one. */
export function callMetadata(options: ConnectionOptions = {}): Metadata {
  const metadata = new Metadata();
  const token = options.token ?? env('LIT_STREAM_TOKEN');
  if (token) metadata.set('authorization', `Bearer ${token}`);
  return metadata;
}

/** Closes the shared channels (e.g. before a test or a short script ends). */
export function closeSharedClients(): void {
  for (const client of shared.values()) client.close();
  shared.clear();
}

function tlsFromEnvironment(): TlsOptions | undefined {
  const [ca, cert, key] = ['LIT_STREAM_CA', 'LIT_STREAM_CERT', 'LIT_STREAM_KEY'].map((name) => {
    const path = env(name);
    return path ? readFileSync(path) : undefined;
  });
  return ca || cert || key ? { ca, cert, key } : undefined;
}

function sslCredentials({ ca, cert, key }: TlsOptions): ChannelCredentials {
  const pem = (value: Buffer | string | undefined) => (value === undefined ? null : Buffer.from(value));
  return grpcCredentials.createSsl(pem(ca), pem(key), pem(cert));
}

function env(name: string): string | undefined {
  const value = process.env[name];
  return value === '' ? undefined : value;
}
