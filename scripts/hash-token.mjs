#!/usr/bin/env node
// Prints the SHA-256 (hex) of a bearer token, for the `sha256:` of an access file's `tokens`
// entry; the same digest as src/auth/tokens.ts hashToken (test/unit/authTokens.spec.ts checks).
//
//   printf %s "$TOKEN" | node scripts/hash-token.mjs   # from stdin: one trailing newline is dropped
//   node scripts/hash-token.mjs "$TOKEN"               # from argv (visible in ps and shell history)
//   node scripts/hash-token.mjs --generate             # a new random token, then its SHA-256
import { createHash, randomBytes } from 'node:crypto';
import { text } from 'node:stream/consumers';

const sha256 = (token) => createHash('sha256').update(token, 'utf8').digest('hex');
const [argument, ...rest] = process.argv.slice(2);

if (rest.length > 0 || argument === '-h' || argument === '--help') {
  console.error('usage: hash-token.mjs [TOKEN | --generate]   (no TOKEN: read it from stdin)');
  process.exit(rest.length > 0 ? 2 : 0);
} else if (argument === '--generate') {
  // 32 random bytes, base64url: token68 (RFC 6750), so it fits an `authorization: Bearer` header.
  const token = randomBytes(32).toString('base64url');
  console.log(`token:  ${token}\nsha256: ${sha256(token)}`);
} else {
  const token = argument ?? (await text(process.stdin)).replace(/\r?\n$/, '');
  if (token === '') {
    console.error('hash-token.mjs: the token is empty');
    process.exit(2);
  }
  console.log(sha256(token));
}
