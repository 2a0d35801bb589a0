import { readFile } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { Metadata } from '@grpc/grpc-js';
import { Registry } from 'prom-client';
import type { AccessControl, Caller } from '../accessControl.js';
import { checkExposure, type TransportOptions, type TransportWarnings } from '../transport.js';

export interface MetricsEndpointOptions extends Omit<TransportOptions, 'listen' | 'accessControlled' | 'socketMode'> {
  /** `host:port` (port 0 picks a free one). */
  readonly listen: string;
  readonly access: AccessControl;
  readonly log: TransportWarnings;
  /**
   * The exposition text for a caller: `readable(team)` says whether the caller may see that team's
   * streams (ListStreams); `serverWide` whether the server's own series (process, gRPC, sessions)
   * are included: for an identity granted `metrics` (or admin).
   */
  readonly render: (readable: (team: string) => boolean, serverWide: boolean) => Promise<string>;
}

export interface MetricsEndpoint {
  /** The address bound, e.g. `127.0.0.1:9464`. */
  readonly address: string;
  close(): Promise<void>;
}

/**
 * GET /metrics in Prometheus's text format, on a listener of its own (not the gRPC port: scrapers
 * speak HTTP/1.1, and a busy scrape must not queue behind RPCs' flow control).
 *
 * Exposure follows the gRPC port's rules (transport.ts): without an access file, loopback only;
 * elsewhere TLS (the same certificate; client certificates verified against --client-ca), or
 * --insecure with a warning. With an access file every scrape authenticates as gRPC calls do (a
 * bearer token in `Authorization`, or a verified client certificate: Prometheus's `authorization`
 * or `tls_config`), and sees the streams of the teams it may read (`reader`), and the server's own
 * series only with the `metrics` grant. An identity the access file grants nothing gets 403.
 */
export async function startMetricsEndpoint(options: MetricsEndpointOptions): Promise<MetricsEndpoint> {
  const { access } = options;
  checkExposure({ ...options, accessControlled: access.enabled }, options.log);
  // serve() answers every request itself, errors included; should it still fail, that request's
  // connection ends: a rejection nobody handles would end the whole process.
  const handle = (request: IncomingMessage, response: ServerResponse) =>
    void serve(options, request, response).catch((error: unknown) => {
      options.log.warn({ err: (error as Error).message }, 'could not answer a metrics request');
      response.destroy();
    });
  const server: Server =
    options.tlsCert !== undefined && options.tlsKey !== undefined
      ? createHttpsServer(
          {
            cert: await readFile(options.tlsCert),
            key: await readFile(options.tlsKey),
            ...(options.clientCa !== undefined
              ? // Requested, not required, as on the gRPC port: token callers come without one.
                { ca: await readFile(options.clientCa), requestCert: true, rejectUnauthorized: false }
              : {}),
          },
          handle,
        )
      : createHttpServer(handle);
  const at = options.listen.lastIndexOf(':');
  const host = options.listen.slice(0, at).replace(/^\[|\]$/g, '');
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) => reject(new Error(`cannot serve metrics on ${options.listen}: ${error.message}`)));
    server.listen(Number(options.listen.slice(at + 1)), host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    address: `${options.listen.slice(0, at)}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function serve(options: MetricsEndpointOptions, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const reply = (code: number, text: string, headers: Record<string, string> = {}) => {
    response.writeHead(code, { 'content-type': 'text/plain; charset=utf-8', ...headers });
    response.end(request.method === 'HEAD' ? undefined : text);
  };
  const path = pathOf(request);
  if (path === undefined) return reply(400, 'bad request: the request target is not a path\n');
  if (path !== '/metrics') return reply(404, 'not found: metrics are at /metrics\n');
  if (request.method !== 'GET' && request.method !== 'HEAD') return reply(405, 'GET /metrics\n', { allow: 'GET, HEAD' });
  let caller: Caller;
  try {
    caller = options.access.authenticate(credentialsOf(request));
  } catch (error) {
    return reply(401, `${(error as Error).message}\n`, { 'www-authenticate': 'Bearer realm="lit-streamd metrics"' });
  }
  if (!options.access.grantsAnything(caller)) {
    return reply(403, `${caller.label} is granted nothing in the access file: grant it metrics for the server's series, reader on a team for its streams\n`);
  }
  const readable = (team: string) => {
    try {
      options.access.authorize(caller, team, 'ListStreams');
      return true;
    } catch {
      return false;
    }
  };
  try {
    const text = await options.render(readable, options.access.mayReadServerMetrics(caller));
    reply(200, text, { 'content-type': Registry.PROMETHEUS_CONTENT_TYPE });
  } catch (error) {
    reply(500, `could not collect metrics: ${(error as Error).message}\n`);
  }
}

/**
 * The path of a request's target; undefined when it is no URL (`//[`), which Node's HTTP parser
 * lets through: that is the client's error (400), not ours.
 */
function pathOf(request: IncomingMessage): string | undefined {
  try {
    return new URL(request.url ?? '/', 'http://metrics').pathname;
  } catch {
    return undefined;
  }
}

/** An HTTP request's credentials in the shape AccessControl reads from a gRPC call. */
function credentialsOf(request: IncomingMessage) {
  const metadata = new Metadata();
  if (request.headers.authorization !== undefined) metadata.set('authorization', request.headers.authorization);
  const socket = request.socket as Partial<TLSSocket>;
  return {
    metadata,
    // Only a certificate that verified against --client-ca names anyone (rejectUnauthorized is
    // off so that token callers can connect without one).
    getAuthContext: () => ({ sslPeerCertificate: socket.authorized ? socket.getPeerCertificate?.() : undefined }),
  };
}
