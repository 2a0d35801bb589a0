import type { Metadata } from '@grpc/grpc-js';
import { AccessPolicy, bearerTokenOf, isIdentityName, type Identity, loadAccessFile, type PeerCertificateLike } from '../auth/index.js';
import { ON_BEHALF_OF_METADATA } from '../core/backend.js';
import { PermissionDeniedError, UnauthenticatedError } from '../core/errors.js';

/** Who is calling, for decisions and the audit log. */
export interface Caller {
  /** Undefined when the server runs without an access file (loopback or unix socket only). */
  readonly identity: Identity | undefined;
  /** For logs: `dashboard` (token or certificate), or `anonymous`. Never a secret. */
  readonly label: string;
  /** The fleet gateway that forwarded the call for `identity` (its own identity's name). */
  readonly gateway?: string;
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
    return this.actingFor(policy, this.credentialed(policy, call), call);
  }

  /** Who the credentials name. */
  private credentialed(policy: AccessPolicy, call: CredentialSource): Identity {
    const header = call.metadata.get('authorization')[0];
    if (header !== undefined) {
      const token = bearerTokenOf(String(header));
      const identity = token === undefined ? undefined : policy.identifyToken(token);
      if (!identity) throw new UnauthenticatedError("the 'authorization' metadata is not a bearer token this server knows");
      return identity;
    }
    const identity = policy.identifyCertificate(call.getAuthContext?.().sslPeerCertificate);
    if (!identity) {
      throw new UnauthenticatedError("no credentials: send 'authorization: Bearer <token>' or a client certificate the server trusts");
    }
    return identity;
  }

  /**
   * The caller the call is decided for. An identity holding the `gateway` role acts only for the
   * caller it names in `lit-stream-on-behalf-of` (their grants decide; the audit names both); any
   * other identity that sends that header is refused, as is a gateway that names nobody. Every
   * refusal is an audit line.
   */
  private actingFor(policy: AccessPolicy, identity: Identity, call: CredentialSource): Caller {
    const named = call.metadata.get(ON_BEHALF_OF_METADATA);
    const onBehalfOf = named.length === 1 ? String(named[0]) : undefined;
    const gateway = policy.isGateway(identity);
    if (!gateway && named.length === 0) return { identity, label: identity.name };
    const refuse = (reason: string): never => {
      this.log.info({ audit: true, identity: identity.name, onBehalfOf: onBehalfOf?.slice(0, 64) ?? null, outcome: 'REFUSED', reason }, 'audit');
      throw new PermissionDeniedError(reason);
    };
    if (!gateway) return refuse(`${identity.name} may not send '${ON_BEHALF_OF_METADATA}': only an identity holding the gateway role acts for others`);
    if (onBehalfOf === undefined) {
      return refuse(`${identity.name} holds the gateway role: it acts only for the one caller it names in '${ON_BEHALF_OF_METADATA}'`);
    }
    if (!isIdentityName(onBehalfOf)) return refuse(`'${ON_BEHALF_OF_METADATA}' from ${identity.name} is not an identity name`);
    return { identity: Object.freeze({ name: onBehalfOf, via: 'gateway' as const }), label: onBehalfOf, gateway: identity.name };
  }

  /** Whether the access file grants the caller anything (always, without an access file). */
  grantsAnything(caller: Caller): boolean {
    if (!this.enabled) return true;
    return caller.identity !== undefined && this.policy?.grantsAnything(caller.identity) === true;
  }

  /** Whether the caller may see the server's own metrics (`metrics` or `admin`; always without an access file). */
  mayReadServerMetrics(caller: Caller): boolean {
    if (!this.enabled) return true;
    return caller.identity !== undefined && this.policy?.mayReadServerMetrics(caller.identity) === true;
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
