import { chmod, lstat, readFile, unlink } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { experimental, ServerCredentials } from '@grpc/grpc-js';
import { isLoopback, isUnixSocket } from '../core/address.js';

export { isLoopback, isUnixSocket };

export interface TransportOptions {
  /** `host:port`, or `unix:/path` for a unix socket. */
  readonly listen: string;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  /** CA that client certificates are verified against (mTLS). */
  readonly clientCa?: string;
  /** Allow plaintext TCP on a non-loopback address. */
  readonly insecure?: boolean;
  /** File mode of a unix socket, e.g. 0o660. */
  readonly socketMode?: number;
  /** Whether an access file authenticates callers. */
  readonly accessControlled: boolean;
}

export class TransportConfigError extends Error {
  override readonly name = 'TransportConfigError';
}

export interface TransportWarnings {
  warn(obj: object, msg: string): void;
}

/**
 * Refuses configurations that would expose streams to the network without protection:
 * plaintext TCP only on loopback (unless --insecure, with a loud warning), and without an access
 * file nothing but loopback or a unix socket at all (there would be no way to tell callers apart).
 */
export function checkExposure(options: TransportOptions, log: TransportWarnings): void {
  if ((options.tlsCert === undefined) !== (options.tlsKey === undefined)) {
    throw new TransportConfigError('--tls-cert and --tls-key go together');
  }
  if (options.clientCa !== undefined && options.tlsCert === undefined) {
    throw new TransportConfigError('--client-ca needs --tls-cert and --tls-key (client certificates need TLS)');
  }
  if (isUnixSocket(options.listen) || isLoopback(options.listen)) return;
  if (!options.accessControlled) {
    throw new TransportConfigError(
      `refusing to serve ${options.listen} without an access file: anyone who reaches it could stop any stream. Serve loopback or unix:/path, or give --access-file`,
    );
  }
  if (options.tlsCert !== undefined) return;
  if (!options.insecure) {
    throw new TransportConfigError(
      `refusing plaintext on ${options.listen}: tokens would cross the network in clear. Give --tls-cert/--tls-key, or --insecure if something else encrypts the traffic`,
    );
  }
  log.warn(
    { listen: options.listen, insecure: true },
    'INSECURE: serving plaintext gRPC on a non-loopback address; bearer tokens and stream control cross the network unencrypted',
  );
}

/** TLS when configured (requesting, not requiring, a client certificate when --client-ca is set). */
export async function serverCredentials(options: TransportOptions): Promise<ServerCredentials> {
  if (options.tlsCert === undefined || options.tlsKey === undefined) return ServerCredentials.createInsecure();
  const [certificate, privateKey] = await Promise.all([readFile(options.tlsCert), readFile(options.tlsKey)]);
  if (options.clientCa === undefined) {
    return ServerCredentials.createSsl(null, [{ cert_chain: certificate, private_key: privateKey }], false);
  }
  // Requested, not required: token callers connect without a certificate. grpc-js reports a
  // certificate in getAuthContext() only when it verified against this CA; an unknown CA's
  // certificate therefore identifies no one (UNAUTHENTICATED), instead of failing the handshake.
  const caCertificate = await readFile(options.clientCa);
  // One provider for both roles: grpc-js 1.14's createCertificateProviderServerCredentials passes
  // its (ca, identity) arguments to a constructor that takes (identity, ca), so a provider that
  // answers both kinds of listener works whichever way round they end up.
  const provider = staticProvider({ caCertificate, identity: { certificate, privateKey } });
  return experimental.createCertificateProviderServerCredentials(provider, provider, false);
}

/**
 * Makes way for binding a unix socket: a socket file left by a server that is gone (nothing
 * accepts on it) is removed; one that a live server answers on is not — unlinking it would leave
 * that server serving nobody, and binding would then take its place with our own file mode.
 */
export async function prepareListen(listen: string): Promise<void> {
  if (!isUnixSocket(listen)) return;
  const path = socketPath(listen);
  const stats = await lstat(path).catch(() => undefined);
  if (!stats) return;
  if (!stats.isSocket()) throw new TransportConfigError(`${path} exists and is not a socket`);
  if (await answers(path)) {
    throw new TransportConfigError(`${path} is in use: another server is listening on it. Stop it first, or listen elsewhere`);
  }
  await unlink(path);
}

/** Whether something accepts connections on the unix socket (ECONNREFUSED: a stale file). */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection(path);
    const done = (live: boolean) => {
      socket.destroy();
      resolve(live);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    // A listener whose accept queue is full does not answer at once; it is still alive.
    socket.setTimeout(2_000, () => done(true));
  });
}

export async function afterBind(options: TransportOptions): Promise<void> {
  if (isUnixSocket(options.listen)) await chmod(socketPath(options.listen), options.socketMode ?? 0o660);
}

function socketPath(listen: string): string {
  return listen.replace(/^unix:(\/\/)?/, '');
}


type Provider = Parameters<typeof experimental.createCertificateProviderServerCredentials>[0];

/**
 * A grpc-js CertificateProvider for material that does not change while the server runs. It
 * answers a new listener on the next tick, as grpc-js's own file-watching provider does: grpc-js
 * registers the server's watcher only after adding the listener, so an answer given synchronously
 * would never reach the server and every connection would be dropped as "credentials not loaded".
 */
function staticProvider(material: { caCertificate?: Buffer; identity?: { certificate: Buffer; privateKey: Buffer } }): Provider {
  return {
    addCaCertificateListener: (listener) =>
      setImmediate(() => listener(material.caCertificate ? { caCertificate: material.caCertificate } : null)),
    removeCaCertificateListener: () => undefined,
    addIdentityCertificateListener: (listener) => setImmediate(() => listener(material.identity ?? null)),
    removeIdentityCertificateListener: () => undefined,
  };
}
