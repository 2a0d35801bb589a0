/**
 * Reads the `subjectaltname` string node gives for a peer certificate (tls.PeerCertificate,
 * X509Certificate.subjectAltName): entries like `DNS:a.example` joined by ", ". A value holding
 * a comma, a quote or another special character comes as a JSON string (`URI:"https://x/a\u002cb"`)
 * since node 17.3 / 16.13.2 (CVE-2021-44532), so a name cannot forge a second entry.
 */

export interface AltName {
  /** As node writes it: `DNS`, `URI`, `email`, `IP Address`, `othername`, ... */
  readonly type: string;
  readonly value: string;
}

/** One JSON string literal at the start of the text. */
const JSON_STRING = /^"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/;

/**
 * The entries of a `subjectaltname` string, in certificate order. Throws on a string that is not
 * in node's format (an unterminated quote, an entry without a type), so callers can fail closed.
 */
export function parseSubjectAltName(text: string): AltName[] {
  const names: AltName[] = [];
  for (const entry of splitEntries(text)) {
    const colon = entry.indexOf(':');
    if (colon <= 0) throw new Error(`subjectaltname entry ${JSON.stringify(entry)} has no type`);
    names.push({ type: entry.slice(0, colon), value: entry.slice(colon + 1) });
  }
  return names;
}

/** Splits at ", " outside JSON strings, decoding each JSON string in place. */
function splitEntries(text: string): string[] {
  const entries: string[] = [];
  if (text === '') return entries;
  let current = '';
  let offset = 0;
  while (offset < text.length) {
    const separator = text.indexOf(', ', offset);
    const quote = text.indexOf('"', offset);
    if (quote !== -1 && (separator === -1 || quote < separator)) {
      current += text.slice(offset, quote);
      const literal = JSON_STRING.exec(text.slice(quote))?.[0];
      if (literal === undefined) throw new Error('subjectaltname has an unterminated or invalid quoted value');
      current += JSON.parse(literal) as string;
      offset = quote + literal.length;
    } else if (separator !== -1) {
      entries.push(current + text.slice(offset, separator));
      current = '';
      offset = separator + 2;
    } else {
      entries.push(current + text.slice(offset));
      current = '';
      offset = text.length;
    }
  }
  if (current !== '') entries.push(current);
  return entries;
}
