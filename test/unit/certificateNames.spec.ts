import { describe, expect, it } from 'vitest';
import { parseCertificateSubject, subjectKey } from '../../src/auth/certificateSubject.js';
import { parseSubjectAltName } from '../../src/auth/subjectAltName.js';

describe("a peer certificate's subjectaltname, as node writes it", () => {
  it('has no names when empty', () => {
    expect(parseSubjectAltName('')).toEqual([]);
  });

  it('splits at ", " but not inside a quoted value, which it decodes', () => {
    expect(parseSubjectAltName('DNS:a.example, URI:"https://x/a\\u002c b", email:ops@contoso.example')).toEqual([
      { type: 'DNS', value: 'a.example' },
      { type: 'URI', value: 'https://x/a, b' },
      { type: 'email', value: 'ops@contoso.example' },
    ]);
    expect(parseSubjectAltName('DNS:a, URI:"x, y"')).toEqual([
      { type: 'DNS', value: 'a' },
      { type: 'URI', value: 'x, y' },
    ]);
    expect(parseSubjectAltName('URI:"x"')).toEqual([{ type: 'URI', value: 'x' }]);
  });

  it.each([['novalue'], [':value'], ['DNS:a, :b']])('refuses %j: an entry without a type', (text) => {
    expect(() => parseSubjectAltName(text)).toThrow(/^subjectaltname entry ".*" has no type$/);
  });

  it.each([['URI:"https://x'], ['URI:"a\\qb"'], ['URI:"a\u0001b"'], ['URI:"a\\u12"']])('refuses %j: a quoted value that is not a JSON string', (text) => {
    expect(() => parseSubjectAltName(text)).toThrow('subjectaltname has an unterminated or invalid quoted value');
  });
});

describe('a subject of the access file, typed', () => {
  it.each([
    ['DNS:ingest.contoso.example', ['DNS'], 'ingest.contoso.example'],
    ['CN:ingest', ['CN'], 'ingest'],
    ['https://contoso.example/bots/ingest', ['URI'], 'https://contoso.example/bots/ingest'],
    ['spiffe://contoso.example/ingest', ['URI'], 'spiffe://contoso.example/ingest'],
    ['URN:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66', ['URI'], 'URN:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66'],
    ['ops@contoso.example', ['email'], 'ops@contoso.example'],
    ['ingest.contoso.example', ['DNS', 'CN'], 'ingest.contoso.example'],
    // A prefix alone names nothing of its kind; text with a scheme further in is no URI.
    ['DNS:', ['DNS', 'CN'], 'DNS:'],
    ['bot https://contoso.example', ['DNS', 'CN'], 'bot https://contoso.example'],
    ['my-urn:x', ['DNS', 'CN'], 'my-urn:x'],
  ])('%j is %j %j', (text, kinds, value) => {
    expect(parseCertificateSubject(text)).toEqual({ kinds, value });
  });

  it('compares DNS names without case, the rest exactly', () => {
    expect(subjectKey('DNS', 'Ingest.Contoso.Example')).toBe('DNS:ingest.contoso.example');
    expect(subjectKey('URI', 'https://Contoso.example/Bots')).toBe('URI:https://Contoso.example/Bots');
  });
});
