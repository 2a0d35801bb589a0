import { parseTeam } from '../core/streamRef.js';
import { parseCertificateSubject, subjectKey } from './certificateSubject.js';
import { hashToken } from './tokens.js';
import { isTeamRole, type TeamRole } from './roles.js';

/**
 * What an access file says, validated: who presents which credential, and who holds which role
 * for which team. Only `validateAccessRules` makes one from untrusted input.
 */
export interface AccessRules {
  readonly tokens: readonly TokenRule[];
  readonly certificates: readonly CertificateRule[];
  /** Identity → `admin` (every team), `gateway` (acts for the callers it names) or team → the roles held for it. */
  readonly grants: ReadonlyMap<string, Grant>;
  /** Identities granted `metrics`: the server-wide series of GET /metrics (admin has them too). */
  readonly metrics: ReadonlySet<string>;
}

export interface TokenRule {
  readonly name: string;
  /** The SHA-256 of the token, 64 lowercase hex digits. */
  readonly sha256: string;
}

export interface CertificateRule {
  readonly name: string;
  /**
   * A SAN DNS name, URI or email, or a CN, optionally typed as `DNS:`, `URI:`, `email:` or `CN:`
   * (certificateSubject.ts); matched only against names of the same kind in the certificate.
   */
  readonly subject: string;
}

/**
 * `admin`: every role on every team. `gateway`: a fleet gateway, which may act only for the caller
 * it names in `lit-stream-on-behalf-of` (that caller's grants then decide), never by itself. Both
 * are held server-wide, not per team. Otherwise: team → the roles held for it.
 */
export type Grant = 'admin' | 'gateway' | ReadonlyMap<string, readonly TeamRole[]>;

/** A path into the access file, e.g. ['grants', 'ingest-bot', 'contoso']. */
export type FieldPath = readonly (string | number)[];

/** The access file is wrong at `path`: at its key (`at: 'key'`) or its value. */
export class AccessRulesError extends Error {
  override readonly name = 'AccessRulesError';
  constructor(
    readonly path: FieldPath,
    readonly problem: string,
    readonly at: 'key' | 'value' = 'value',
  ) {
    super(path.length === 0 ? problem : `${formatFieldPath(path)}: ${problem}`);
  }
}

/**
 * An identity's name: 1-64 of A-Z a-z 0-9 . _ -, starting with a letter or digit. It is logged
 * with every call, so it is kept to characters that need no quoting.
 */
const IDENTITY = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function isIdentityName(name: string): boolean {
  return IDENTITY.test(name);
}
const SHA256_HEX = /^[0-9a-fA-F]{64}$/;
/** A certificate subject: no whitespace at its ends, no control characters (SAN/CN values). */
const SUBJECT = /^[^\s\u0000-\u001f\u007f](?:[^\u0000-\u001f\u007f]{0,1022}[^\s\u0000-\u001f\u007f])?$/;
/** The SHA-256 of the empty token: a grant that anyone sending `Bearer ` (nothing) would hold. */
const EMPTY_TOKEN_SHA256 = hashToken('');

const TOP_LEVEL_KEYS = ['tokens', 'certificates', 'grants'];

/** Checks a parsed access file (JSON.parse or YAML output) and returns its rules. */
export function validateAccessRules(file: unknown): AccessRules {
  if (file === null || file === undefined) {
    throw new AccessRulesError([], 'the access file is empty: expected a mapping with tokens, certificates and grants');
  }
  const top = expectMapping(file, []);
  rejectUnknownKeys(top, [], TOP_LEVEL_KEYS);
  if (!Object.hasOwn(top, 'grants')) {
    throw new AccessRulesError([], 'grants is missing: say who may do what (grants: {} grants nothing to anyone)');
  }
  const tokens = Object.hasOwn(top, 'tokens') ? validateTokens(top.tokens) : [];
  const certificates = Object.hasOwn(top, 'certificates') ? validateCertificates(top.certificates) : [];
  const { grants, metrics } = validateGrants(top.grants);
  return Object.freeze({ tokens, certificates, grants, metrics });
}

function validateTokens(value: unknown): TokenRule[] {
  const path = ['tokens'];
  const firstWithName = new Map<string, number>();
  const firstWithDigest = new Map<string, number>();
  return expectList(value, path).map((item, index) => {
    const entry = expectMapping(item, [...path, index]);
    rejectUnknownKeys(entry, [...path, index], ['name', 'sha256']);
    const name = identityName(required(entry, [...path, index], 'name'), [...path, index, 'name']);
    const sha256 = tokenDigest(required(entry, [...path, index], 'sha256'), [...path, index, 'sha256']);
    noDuplicate(firstWithName, name, index, [...path, index, 'name'], (first) => `name ${JSON.stringify(name)} is already used by tokens[${first}]`);
    noDuplicate(firstWithDigest, sha256, index, [...path, index, 'sha256'], (first) => `the same token as tokens[${first}]: one token must identify one identity`);
    return Object.freeze({ name, sha256 });
  });
}

function validateCertificates(value: unknown): CertificateRule[] {
  const path = ['certificates'];
  const firstWithName = new Map<string, number>();
  const firstWithSubject = new Map<string, number>();
  return expectList(value, path).map((item, index) => {
    const entry = expectMapping(item, [...path, index]);
    rejectUnknownKeys(entry, [...path, index], ['name', 'subject']);
    const name = identityName(required(entry, [...path, index], 'name'), [...path, index, 'name']);
    const subject = certificateSubject(required(entry, [...path, index], 'subject'), [...path, index, 'subject']);
    noDuplicate(firstWithName, name, index, [...path, index, 'name'], (first) => `name ${JSON.stringify(name)} is already used by certificates[${first}]`);
    // Two subjects naming the same certificate name of one kind would make it identify two
    // identities (DNS names compare without case, RFC 4343).
    const { kinds, value: named } = parseCertificateSubject(subject);
    for (const kind of kinds) {
      noDuplicate(firstWithSubject, subjectKey(kind, named), index, [...path, index, 'subject'], (first) => `subject ${JSON.stringify(subject)} names the same ${kind} as certificates[${first}]: one certificate must identify one identity`);
    }
    return Object.freeze({ name, subject });
  });
}

/** The server-wide grant besides admin: GET /metrics's series of the whole server. */
const METRICS = 'metrics';

function validateGrants(value: unknown): { grants: ReadonlyMap<string, Grant>; metrics: ReadonlySet<string> } {
  const path = ['grants'];
  const grants = new Map<string, Grant>();
  const metrics = new Set<string>();
  // An empty `grants:` grants nothing, like `grants: {}`.
  for (const [identity, grant] of Object.entries(value === null ? {} : expectMapping(value, path))) {
    identityName(identity, [...path, identity], 'key');
    // A list holds `metrics` and at most one mapping of teams: `[metrics, { contoso: reader }]`.
    const items = Array.isArray(grant) ? grant : [grant];
    if (items.length === 0) throw new AccessRulesError([...path, identity], 'an empty list grants nothing: leave the identity out, or name what it may do');
    let teams: Grant | undefined;
    items.forEach((item, index) => {
      const at = Array.isArray(grant) ? [...path, identity, index] : [...path, identity];
      if (item === METRICS) return void metrics.add(identity);
      if (Array.isArray(grant) && item === 'admin') {
        throw new AccessRulesError(at, 'admin holds every role and the metrics already: write the identity as `<name>: admin`');
      }
      if (Array.isArray(grant) && item === 'gateway') {
        throw new AccessRulesError(at, 'a gateway acts only for the callers it names, with their grants: write the identity as `<name>: gateway`');
      }
      if (teams !== undefined) throw new AccessRulesError(at, 'one mapping of teams per identity: put every team in it');
      teams = validateGrant(item, at);
    });
    if (teams !== undefined) grants.set(identity, teams);
  }
  return { grants, metrics };
}

function validateGrant(grant: unknown, path: FieldPath): Grant {
  if (grant === 'admin' || grant === 'gateway') return grant;
  if (isTeamRole(grant)) {
    throw new AccessRulesError(path, `${grant} is held per team: write { <team>: ${grant} }; only admin, gateway and metrics are granted for the whole server`);
  }
  if (typeof grant === 'string' || grant === null || typeof grant !== 'object' || Array.isArray(grant)) {
    throw new AccessRulesError(path, `expected admin, gateway, metrics or a mapping of team to roles (reader, logs, operator), got ${describe(grant)}`);
  }
  const teams = new Map<string, readonly TeamRole[]>();
  for (const [team, roles] of Object.entries(grant as Record<string, unknown>)) {
    try {
      parseTeam(team);
    } catch (error) {
      throw new AccessRulesError([...path, team], (error as Error).message, 'key');
    }
    // One role, or a list of them: `contoso: [reader, logs]`.
    const list = Array.isArray(roles) ? roles : [roles];
    if (list.length === 0) throw new AccessRulesError([...path, team], 'an empty list grants nothing: leave the team out, or name its roles');
    teams.set(
      team,
      Object.freeze(
        list.map((role, index) => {
          const at = Array.isArray(roles) ? [...path, team, index] : [...path, team];
          if (role === 'admin' || role === 'gateway') {
            throw new AccessRulesError(at, `${role} is granted for every team, not per team: write the identity as \`<name>: ${role}\``);
          }
          if (role === METRICS) {
            throw new AccessRulesError(at, 'metrics is granted for the whole server, not per team: write the identity as `<name>: metrics`, or beside its teams as `<name>: [metrics, { <team>: … }]`');
          }
          if (!isTeamRole(role)) throw new AccessRulesError(at, `unknown role ${describe(role)}: use reader, logs or operator`);
          return role;
        }),
      ),
    );
  }
  return teams;
}

function identityName(value: unknown, path: FieldPath, at: 'key' | 'value' = 'value'): string {
  if (typeof value !== 'string' || !IDENTITY.test(value)) {
    throw new AccessRulesError(path, `identity name ${describe(value)} is invalid: use 1-64 of A-Z, a-z, 0-9, '.', '_' and '-', starting with a letter or digit`, at);
  }
  return value;
}

function tokenDigest(value: unknown, path: FieldPath): string {
  if (typeof value !== 'string') {
    throw new AccessRulesError(path, `expected the SHA-256 of the token as 64 hex digits, got ${describe(value)}`);
  }
  if (value.length !== 64) {
    throw new AccessRulesError(path, `expected the SHA-256 of the token as 64 hex digits, got ${value.length} characters (scripts/hash-token.mjs prints it)`);
  }
  if (!SHA256_HEX.test(value)) {
    throw new AccessRulesError(path, 'expected the SHA-256 of the token as 64 hex digits, got characters other than 0-9 and a-f');
  }
  const sha256 = value.toLowerCase();
  if (sha256 === EMPTY_TOKEN_SHA256) {
    throw new AccessRulesError(path, 'this is the SHA-256 of the empty token, which anyone can present');
  }
  return sha256;
}

function certificateSubject(value: unknown, path: FieldPath): string {
  if (typeof value !== 'string' || !SUBJECT.test(value)) {
    throw new AccessRulesError(path, `expected a certificate subject (a SAN DNS name, URI or email, or a CN, optionally typed as DNS:, URI:, email: or CN:) of 1-1024 characters without control characters or surrounding spaces, got ${describe(value)}`);
  }
  return value;
}

/** Remembers the first index holding `key`; a later index holding it again is an error. */
function noDuplicate(seen: Map<string, number>, key: string, index: number, path: FieldPath, problem: (first: number) => string): void {
  const first = seen.get(key);
  if (first !== undefined) throw new AccessRulesError(path, problem(first));
  seen.set(key, index);
}

function expectMapping(value: unknown, path: FieldPath): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new AccessRulesError(path, `expected a mapping, got ${describe(value)}`);
  }
  return value as Record<string, unknown>;
}

/** A list; an empty value (`tokens:` with every entry commented out, or null) is an empty one. */
function expectList(value: unknown, path: FieldPath): unknown[] {
  if (value === null) return [];
  if (!Array.isArray(value)) throw new AccessRulesError(path, `expected a list, got ${describe(value)}`);
  return value;
}

function required(entry: Record<string, unknown>, path: FieldPath, key: string): unknown {
  if (!Object.hasOwn(entry, key)) throw new AccessRulesError(path, `${key} is missing`);
  return entry[key];
}

function rejectUnknownKeys(entry: Record<string, unknown>, path: FieldPath, known: readonly string[]): void {
  for (const key of Object.keys(entry)) {
    if (!known.includes(key)) {
      throw new AccessRulesError([...path, key], `unknown key ${JSON.stringify(key)}: expected ${known.join(', ')}`, 'key');
    }
  }
}

/** `grants.ingest-bot.contoso`, `tokens[1].sha256`; keys that are not plain words are quoted. */
export function formatFieldPath(path: FieldPath): string {
  return path
    .map((part, index) => {
      if (typeof part === 'number') return `[${part}]`;
      if (/^[A-Za-z0-9_-]+$/.test(part)) return index === 0 ? part : `.${part}`;
      return `[${JSON.stringify(part)}]`;
    })
    .join('');
}

/** A value for an error message: strings quoted and cut short, other values by their kind. */
function describe(value: unknown): string {
  if (typeof value === 'string') {
    if (value === '') return 'an empty string';
    const quoted = JSON.stringify(value);
    return quoted.length > 48 ? `${quoted.slice(0, 48)}…" (${value.length} characters)` : quoted;
  }
  if (value === null || value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return `${typeof value} ${String(value)}`;
  return typeof value;
}
