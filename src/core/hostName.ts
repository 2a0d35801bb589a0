import { InvalidArgumentError } from './errors.js';

/**
 * A host's name in answers and requests (`host`): 1-255 of A-Z a-z 0-9 . _ - : [ ], starting with
 * a letter, a digit or `[`. That takes what names hosts in practice: a DNS name (`feed-1`,
 * `feed-1.feeds.example`), and the addresses a fleet gateway names hosts found by an A or AAAA
 * record by (`10.0.0.1:50051`, `[2001:db8::1]:50051`).
 */
const HOST = /^[A-Za-z0-9[][A-Za-z0-9._:[\]-]{0,254}$/;

export function isValidHostName(host: string): boolean {
  return HOST.test(host);
}

/** The host a request names, or undefined when it names none (absent or empty). */
export function parseHostChoice(host: string | undefined): string | undefined {
  if (host === undefined || host === '') return undefined;
  if (!isValidHostName(host)) {
    const quoted = JSON.stringify(host);
    throw new InvalidArgumentError(
      `host ${quoted.length > 48 ? `${quoted.slice(0, 48)}…"` : quoted} is invalid: use 1-255 of A-Z, a-z, 0-9, '.', '_', '-', ':', '[' and ']'`,
    );
  }
  return host;
}
