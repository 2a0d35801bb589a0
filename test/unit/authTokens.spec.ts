import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { parseAccessPolicy } from '../../src/auth/accessFile.js';
import { bearerTokenOf, findTokenOwner, hashToken, storedToken } from '../../src/auth/tokens.js';

/** Every crypto.timingSafeEqual call the code under test makes, with copies of its arguments. */
const comparisons = vi.hoisted(() => [] as Array<[Buffer, Buffer]>);
vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:crypto')>();
  return {
    ...actual,
    timingSafeEqual(a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView): boolean {
      comparisons.push([Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)]);
      return actual.timingSafeEqual(a, b);
    },
  };
});

beforeEach(() => {
  comparisons.length = 0;
});

const SHA256_OF_TEST = '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08';

describe('bearer tokens', () => {
  describe('hashToken', () => {
    it("is the SHA-256 of the token's UTF-8 bytes in lowercase hex, as sha256sum prints it", () => {
      expect(hashToken('test')).toBe(SHA256_OF_TEST); // printf test | sha256sum
      expect(hashToken('pässwörd')).toBe(createHash('sha256').update(Buffer.from('pässwörd', 'utf8')).digest('hex'));
      expect(hashToken('')).toMatch(/^[0-9a-f]{64}$/);
    });
  });

  describe('storedToken', () => {
    it('keeps the owner and the 32-byte digest, accepting either case of hex', () => {
      const lower = storedToken('dashboard', SHA256_OF_TEST);
      const upper = storedToken('dashboard', SHA256_OF_TEST.toUpperCase());
      expect(lower.name).toBe('dashboard');
      expect(lower.digest).toHaveLength(32);
      expect(upper.digest.equals(lower.digest)).toBe(true);
    });

    it.each([
      ['too short', SHA256_OF_TEST.slice(1)],
      ['too long', `${SHA256_OF_TEST}0`],
      ['not hex', 'g'.repeat(64)],
      ['a token in clear', 'test'],
    ])('refuses a digest that is %s', (_, sha256) => {
      expect(() => storedToken('dashboard', sha256)).toThrow(/64 hex digits/);
    });
  });

  describe('findTokenOwner', () => {
    const stored = ['alpha', 'bravo', 'charlie', 'delta'].map((name) => storedToken(name, hashToken(`token-of-${name}`)));

    it('finds the owner of a stored token, and no one for any other token', () => {
      expect(findTokenOwner('token-of-charlie', stored)).toBe('charlie');
      expect(findTokenOwner('token-of-echo', stored)).toBeUndefined();
      expect(findTokenOwner('', stored)).toBeUndefined();
      expect(findTokenOwner('token-of-alpha', [])).toBeUndefined();
    });

    it('compares digests with crypto.timingSafeEqual against every stored token, even after a match', () => {
      for (const token of ['token-of-alpha', 'token-of-delta', 'no-such-token']) {
        comparisons.length = 0;
        findTokenOwner(token, stored);
        expect(comparisons, token).toHaveLength(stored.length);
        expect(comparisons.map(([storedDigest]) => storedDigest)).toEqual(stored.map((entry) => entry.digest));
      }
    });

    it('never compares a token in clear: only 32-byte SHA-256 digests reach the comparison', () => {
      findTokenOwner('token-of-bravo', stored);
      const presented = createHash('sha256').update('token-of-bravo').digest();
      for (const [storedDigest, presentedDigest] of comparisons) {
        expect(storedDigest).toHaveLength(32);
        expect(presentedDigest.equals(presented)).toBe(true);
        expect(presentedDigest.includes(Buffer.from('token-of-bravo'))).toBe(false);
      }
    });

    it('does not accept the stored digest itself as a token: a leaked access file opens nothing', () => {
      expect(findTokenOwner(hashToken('token-of-alpha'), stored)).toBeUndefined();
      expect(findTokenOwner(stored[0]!.digest.toString('hex'), stored)).toBeUndefined();
    });

    it('for any set of distinct tokens, finds exactly the owner of each and no one for a stranger', () => {
      fc.assert(
        fc.property(fc.uniqueArray(fc.string({ minLength: 1 }), { minLength: 1, maxLength: 8 }), fc.string(), (tokens, stranger) => {
          fc.pre(!tokens.includes(stranger));
          const table = tokens.map((token, index) => storedToken(`id-${index}`, hashToken(token)));
          tokens.forEach((token, index) => expect(findTokenOwner(token, table)).toBe(`id-${index}`));
          expect(findTokenOwner(stranger, table)).toBeUndefined();
        }),
      );
    });
  });

  describe('a policy never holds or compares a token in clear', () => {
    it('is built from digests, and identifies the bearer by comparing digests', () => {
      const policy = parseAccessPolicy(
        JSON.stringify({ tokens: [{ name: 'dashboard', sha256: hashToken('s3cret-dashboard-token') }], grants: {} }),
        'json',
      );
      expect(policy.identifyToken('s3cret-dashboard-token')).toEqual({ name: 'dashboard', via: 'token' });
      expect(comparisons).toHaveLength(1);
      expect(comparisons.flat().every((buffer) => buffer.length === 32)).toBe(true);
      expect(policy.identifyToken('S3CRET-dashboard-token')).toBeUndefined();
    });
  });

  describe('bearerTokenOf (the authorization header, RFC 6750 2.1)', () => {
    it.each([
      ['Bearer abc.DEF-123_~+/=', 'abc.DEF-123_~+/='],
      ['bearer abc', 'abc'],
      ['BEARER abc', 'abc'],
      ['Bearer   abc', 'abc'],
    ])('reads %j as the token %j', (header, token) => {
      expect(bearerTokenOf(header)).toBe(token);
    });

    it.each([[undefined], [''], ['Bearer'], ['Bearer '], ['Basic dXNlcjpwYXNz'], ['Bearer a b'], ['Bearer a\n'], ['Bearer =abc'], ['Bearerabc'], [' Bearer abc']])(
      'finds no token in %j',
      (header) => {
        expect(bearerTokenOf(header)).toBeUndefined();
      },
    );
  });

  describe('scripts/hash-token.mjs', () => {
    const script = new URL('../../scripts/hash-token.mjs', import.meta.url).pathname;

    it('prints what hashToken computes, for a token on stdin (one trailing newline dropped) or in argv', () => {
      expect(execFileSync(process.execPath, [script], { input: 'pässwörd\n', encoding: 'utf8' })).toBe(`${hashToken('pässwörd')}\n`);
      expect(execFileSync(process.execPath, [script, 'test'], { encoding: 'utf8' })).toBe(`${SHA256_OF_TEST}\n`);
    });

    it('generates a random bearer token and prints its digest', () => {
      const output = execFileSync(process.execPath, [script, '--generate'], { encoding: 'utf8' });
      const [, token, digest] = /^token: {2}(\S+)\nsha256: ([0-9a-f]{64})\n$/.exec(output) ?? [];
      expect(bearerTokenOf(`Bearer ${token}`)).toBe(token);
      expect(digest).toBe(hashToken(token!));
    });
  });
});
