import { InvalidArgumentError } from './errors.js';
import { isValidStreamName } from './streamRef.js';

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;

export interface Page<T> {
  readonly items: T[];
  /** Empty on the last page. */
  readonly nextPageToken: string;
}

/** What orders a list's items for paging: each item's key (the list is sorted by it), and which keys a token may hold. */
export interface PageKey<T> {
  of(item: T): string;
  valid(key: string): boolean;
}

/** Streams of one host, by name. */
const BY_NAME: PageKey<{ name: string }> = { of: (item) => item.name, valid: isValidStreamName };

/**
 * One page of a team's streams, sorted by `key` (by name unless told). The token is opaque to
 * callers (AIP-158): it names the team and the last key returned, so a page never repeats or skips
 * a stream that already existed, and a token can't be replayed against another team.
 */
export function paginate<T extends { name: string }>(
  team: string,
  sorted: readonly T[],
  pageSize: number,
  pageToken: string,
  key: PageKey<T> = BY_NAME,
): Page<T> {
  if (!Number.isInteger(pageSize) || pageSize < 0) {
    throw new InvalidArgumentError(`page_size ${pageSize} is invalid: use 0 (default ${DEFAULT_PAGE_SIZE}) or more`);
  }
  const size = Math.min(pageSize === 0 ? DEFAULT_PAGE_SIZE : pageSize, MAX_PAGE_SIZE);
  const after = pageToken === '' ? undefined : decodeToken(team, pageToken, key);
  const start = after === undefined ? 0 : sorted.findIndex((item) => key.of(item) > after);
  const items = start < 0 ? [] : sorted.slice(start, start + size);
  const last = items.at(-1);
  const more = start >= 0 && start + size < sorted.length;
  return { items, nextPageToken: more && last ? encodeToken(team, key.of(last)) : '' };
}

export function byName(a: { name: string }, b: { name: string }): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

function encodeToken(team: string, after: string): string {
  return Buffer.from(JSON.stringify({ team, after })).toString('base64url');
}

function decodeToken<T>(team: string, token: string, key: PageKey<T>): string {
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    decoded = undefined;
  }
  const { team: tokenTeam, after } = (decoded ?? {}) as { team?: unknown; after?: unknown };
  if (tokenTeam !== team || typeof after !== 'string' || !key.valid(after)) {
    throw new InvalidArgumentError(`page_token is not one this server issued for team '${team}'`);
  }
  return after;
}
