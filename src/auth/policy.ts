import type { AccessRules, Grant } from './accessRules.js';
import { requiredRoleOf, roleSatisfies, type Role } from './roles.js';
import { parseCertificateSubject, type SubjectKind, subjectKey } from './certificateSubject.js';
import { parseSubjectAltName } from './subjectAltName.js';
import { findTokenOwner, storedToken, type StoredToken } from './tokens.js';

/** Who is calling, as the access file names them, and which credential showed it. */
export interface Identity {
  readonly name: string;
  /** `gateway`: named by a fleet gateway, which proved itself with a token or certificate. */
  readonly via: 'token' | 'certificate' | 'gateway';
}

/**
 * The parts of a client certificate this reads: what tls.TLSSocket#getPeerCertificate() and
 * grpc-js's call.getAuthContext().sslPeerCertificate give (tls.PeerCertificate).
 */
export interface PeerCertificateLike {
  readonly subject?: { readonly CN?: string | readonly string[] } | null;
  readonly subjectaltname?: string;
}

export type Decision = 'allow' | 'deny';

/** The SAN types that name a client (node's spelling); IP addresses and others never do. */
const IDENTIFYING_ALT_NAMES: ReadonlySet<string> = new Set<SubjectKind>(['DNS', 'URI', 'email']);

/**
 * Who a caller is (from a bearer token or a client certificate) and whether they may call an RPC
 * for a team. Built from validated rules (see accessFile.ts); immutable.
 */
export class AccessPolicy {
  readonly #tokens: readonly StoredToken[];
  /** Identity by subjectKey(kind, name): each kind of certificate name matches only its own kind. */
  readonly #subjects = new Map<string, string>();
  readonly #grants: ReadonlyMap<string, Grant>;
  readonly #metrics: ReadonlySet<string>;

  constructor(rules: AccessRules) {
    this.#tokens = rules.tokens.map((token) => storedToken(token.name, token.sha256));
    for (const { name, subject } of rules.certificates) {
      const { kinds, value } = parseCertificateSubject(subject);
      for (const kind of kinds) this.#subjects.set(subjectKey(kind, value), name);
    }
    this.#grants = rules.grants;
    this.#metrics = rules.metrics;
  }

  /** The owner of a bearer token, or undefined. Compared as SHA-256 digests, in constant time. */
  identifyToken(token: string): Identity | undefined {
    const name = findTokenOwner(token, this.#tokens);
    return name === undefined ? undefined : Object.freeze({ name, via: 'token' as const });
  }

  /**
   * The identity a client certificate names, or undefined. The certificate must already be
   * verified against the trusted CA (grpc-js: ServerCredentials.createSsl(..., true), which
   * rejects the handshake otherwise); this only reads names from it.
   *
   * A certificate with SAN entries of the kinds DNS, URI or email is named by those alone: its CN
   * does not count then (RFC 6125 §6.4.4), so a CA that put someone else's name in the CN of a
   * certificate issued for a SAN cannot make it identify that someone. Only a certificate without
   * such entries is named by its CN. A certificate whose names point at two different identities
   * names none: the access file does not say which.
   */
  identifyCertificate(certificate: PeerCertificateLike | null | undefined): Identity | undefined {
    if (!certificate) return undefined;
    const fromAltNames = this.#namesFromAltNames(certificate.subjectaltname);
    if (fromAltNames === 'unreadable') return undefined;
    const names = fromAltNames !== 'none' ? fromAltNames : this.#namesFromCommonName(certificate.subject?.CN);
    if (names.size !== 1) return undefined;
    const [name] = names;
    return name === undefined ? undefined : Object.freeze({ name, via: 'certificate' as const });
  }

  /** The roles an identity holds for a team (none: an empty list; a gateway holds none of its own). */
  rolesOf(identity: Identity, team: string): readonly Role[] {
    const grant = this.#grants.get(identity.name);
    if (grant === undefined || grant === 'gateway') return [];
    return grant === 'admin' ? ['admin'] : (grant.get(team) ?? []);
  }

  /** Whether the identity is a fleet gateway: it may act only for the callers it names. */
  isGateway(identity: Identity): boolean {
    return this.#grants.get(identity.name) === 'gateway';
  }

  /**
   * Whether `identity` may call `method` (an RPC's short name: 'ListStreams', 'Start', ...) for
   * `team`. No identity, no grant for the team, or no role held that includes the method's
   * (roles.ts): deny.
   */
  decide(identity: Identity | undefined, team: string, method: string): Decision {
    if (identity === undefined) return 'deny';
    const required = requiredRoleOf(method);
    return this.rolesOf(identity, team).some((held) => roleSatisfies(held, required)) ? 'allow' : 'deny';
  }

  /** Whether the access file grants the identity anything at all. */
  grantsAnything(identity: Identity): boolean {
    return this.#grants.has(identity.name) || this.#metrics.has(identity.name);
  }

  /** Whether the identity may see the server-wide series of GET /metrics: `metrics`, or admin. */
  mayReadServerMetrics(identity: Identity): boolean {
    return this.#metrics.has(identity.name) || this.#grants.get(identity.name) === 'admin';
  }

  /** Identities the identifying SAN entries name; 'none' when there are no such entries. */
  #namesFromAltNames(subjectAltName: string | undefined): Set<string> | 'none' | 'unreadable' {
    const names = new Set<string>();
    if (subjectAltName === undefined) return 'none';
    let altNames;
    try {
      altNames = parseSubjectAltName(subjectAltName);
    } catch {
      return 'unreadable'; // not node's format: identify no one rather than guess
    }
    const identifying = altNames.filter(({ type }) => IDENTIFYING_ALT_NAMES.has(type));
    if (identifying.length === 0) return 'none';
    for (const { type, value } of identifying) {
      const name = this.#subjects.get(subjectKey(type as SubjectKind, value));
      if (name !== undefined) names.add(name);
    }
    return names;
  }

  #namesFromCommonName(commonName: string | readonly string[] | undefined): Set<string> {
    // Several CNs are ambiguous, like several matching SANs: only a single CN names someone.
    const name = typeof commonName === 'string' ? this.#subjects.get(subjectKey('CN', commonName)) : undefined;
    return new Set(name === undefined ? [] : [name]);
  }
}
