/**
 * What a `subject` of the access file names in a client certificate, typed: a SAN DNS name, a SAN
 * URI, a SAN email address, or the subject's CN. Each kind is matched only against the same kind
 * in the certificate, so a DNS name is never taken for a URI or an email (RFC 6125 §6.2: identifiers
 * are typed).
 *
 * A subject may say its kind as node prints it in `subjectaltname`: `DNS:`, `URI:`, `email:`, or
 * `CN:`. Without one, the value's shape decides: `scheme://…` or `urn:…` is a URI, `a@b` an email,
 * anything else a DNS name that, for certificates without SAN names, may also be the CN.
 */
export type SubjectKind = 'DNS' | 'URI' | 'email' | 'CN';

export interface CertificateSubject {
  /** The kinds of certificate name this subject matches. */
  readonly kinds: readonly SubjectKind[];
  readonly value: string;
}

const PREFIXES: ReadonlyArray<[string, SubjectKind]> = [
  ['DNS:', 'DNS'],
  ['URI:', 'URI'],
  ['email:', 'email'],
  ['CN:', 'CN'],
];

export function parseCertificateSubject(text: string): CertificateSubject {
  for (const [prefix, kind] of PREFIXES) {
    if (text.startsWith(prefix) && text.length > prefix.length) return { kinds: [kind], value: text.slice(prefix.length) };
  }
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(text) || /^urn:/i.test(text)) return { kinds: ['URI'], value: text };
  if (text.includes('@')) return { kinds: ['email'], value: text };
  return { kinds: ['DNS', 'CN'], value: text };
}

/** How two names of one kind compare: DNS names without case (RFC 4343), the rest exactly. */
export function subjectKey(kind: SubjectKind, value: string): string {
  return `${kind}:${kind === 'DNS' ? value.toLowerCase() : value}`;
}
