import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Bearer tokens are kept only as their SHA-256: the access file, the policy in memory and every
 * comparison see digests, never a token in clear. A leaked access file then grants nothing, and
 * a comparison's timing is about digests an attacker cannot steer byte by byte.
 */

/** A token's owner and the SHA-256 of the token (32 bytes). */
export interface StoredToken {
  readonly name: string;
  readonly digest: Buffer;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

/** The SHA-256 of a token's UTF-8 bytes, as 64 lowercase hex digits (what `sha256sum` prints). */
export function hashToken(token: string): string {
  return sha256(token).toString('hex');
}

/** A stored token from its owner and the SHA-256 hex of the token (either case). */
export function storedToken(name: string, sha256Hex: string): StoredToken {
  const hex = sha256Hex.toLowerCase();
  if (!SHA256_HEX.test(hex)) {
    throw new Error(`the SHA-256 of ${name}'s token must be 64 hex digits`);
  }
  return Object.freeze({ name, digest: Buffer.from(hex, 'hex') });
}

/**
 * The name of the stored token that `token` is, or undefined. The presented token is hashed, and
 * its digest is compared with every stored digest by `crypto.timingSafeEqual`, all of them every
 * time: the time taken says nothing about which entry matched, or how far a near miss got.
 */
export function findTokenOwner(token: string, stored: readonly StoredToken[]): string | undefined {
  const presented = sha256(token);
  let owner: string | undefined;
  for (const entry of stored) {
    // No early return: every entry costs one comparison whether or not one matched before it.
    const equal = timingSafeEqual(entry.digest, presented);
    owner = equal ? entry.name : owner;
  }
  return owner;
}

/**
 * The token of an `authorization` header value `Bearer <token>` (RFC 6750 §2.1: the scheme is
 * case-insensitive, the token is token68), or undefined for anything else.
 */
export function bearerTokenOf(authorization: string | undefined): string | undefined {
  const match = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i.exec(authorization ?? '');
  return match?.[1];
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
