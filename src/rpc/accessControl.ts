import type { Metadata } from '@grpc/grpc-js';
import { AccessPolicy, bearerTokenOf, type Identity, loadAccessFile, type PeerCertificateLike } from '../auth/index.js';
import { PermissionDeniedError, UnauthenticatedError } from '../core/errors.js';

/** Who is calling, for decisions and the audit log. */
export interface Caller {
  /** Undefined when the server runs without an access file (loopback or unix socket only). */
  readonly identity: Identity | undefined;
  /** For logs: `dashboard` (token or certificate), or `anonymous`. Never a secret. */
  readonly label: string;
}

export interface AccessLogger {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** The parts of a grpc-js call that carry credentials. */
export interface CredentialSource {
  readonly metadata: Metadata;
  getAuthContext?(): { sslPeerCertificate?: PeerCertificateLike };
}

const ANONYMOUS: Caller = Object.freeze({ identity: undefined, label: 'anonymous' });

/**
 * Authentication and authorization for every RPC, from the access file (src/auth): who is calling
 * (a bearer token, or a client certificate verified against --client-ca), and whether their role on
 * the team allows the method. Without an access file everyone is `anonymous` and allowed: the
 * server then refuses to listen anywhere but loopback or a unix socket (transport.ts).
 *
 * `reload()` (SIGHUP) swaps in a new file atomically; a broken file is rejected with a log line and
 * the old policy stays in force. Unary calls in flight keep the decision they were given; open
 * streams are decided again (CallPipeline.recheckAccess).
 */
export class AccessControl {
  private policy: AccessPolicy | undefined;

  constructor(
    readonly accessFile: string | undefined,
    private readonly log: AccessLogger,
  ) {}

  get enabled(): boolean {
    return this.accessFile !== undefined;
  }

  /** Loads the access file at startup; throws (with the field at fault) if it is broken. */
  async load(): Promise<void> {
    if (this.accessFile) this.policy = await loadAccessFile(this.accessFile);
  }

  /** Re-reads the access file; on error logs why and keeps the policy in force. */
  async reload(): Promise<boolean> {
    if (!this.accessFile) return false;
    try {
      this.policy = await loadAccessFile(this.accessFile);
      this.log.info({ accessFile: this.accessFile }, 'access file reloaded');
      return true;
    } catch (error) {
      this.log.error({ accessFile: this.accessFile, err: (error as Error).message }, 'access file rejected; the previous one stays in force');
      return false;
    }
  }

  /**
   * The caller. A bearer token, when given, must be known (a wrong token is not silently ignored
   * in favour of a certificate); otherwise a verified client certificate names the caller.
   */
  authenticate(call: CredentialSource): Caller {
    if (!this.enabled) return ANONYMOUS;
    const policy = this.policy;
    if (!policy) throw new UnauthenticatedError('the access file is not loaded');
    const header = call.metadata.get('authorization')[0];
    if (header !== undefined) {
      const token = bearerTokenOf(String(header));
      const identity = token === undefined ? undefined : policy.identifyToken(token);
      if (!identity) throw new UnauthenticatedError("the 'authorization' metadata is not a bearer token this server knows");
      return { identity, label: identity.name };
    }
    const identity = policy.identifyCertificate(call.getAuthContext?.().sslPeerCertificate);
    if (!identity) {
      throw new UnauthenticatedError("no credentials: send 'authorization: Bearer <token>' or a client certificate the server trusts");
    }
    return { identity, label: identity.name };
  }

  /**
   * Whether the caller may call `method` for `team`: decided from the access file alone, before
   * any systemd call, and with the same answer whether or not the team or stream exists.
   */
  authorize(caller: Caller, team: string, method: string): void {
    if (!this.enabled) return;
    if (this.policy?.decide(caller.identity, team, method) !== 'allow') {
      throw new PermissionDeniedError(`${caller.label} may not call ${method} for team '${team}'`);
    }
  }
}
