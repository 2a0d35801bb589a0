import { InvalidArgumentError } from './errors.js';

/** A validated stream identity. Only `parseStreamRef` makes one, so holding one proves validity. */
export interface StreamRef {
  readonly team: string;
  readonly name: string;
}

/**
 * 1–32 of [a-z0-9-], starting and ending with a letter or digit. No `@`, so a team's unit glob
 * `<prefix><team>@*` can never reach another team's units (`contoso@*` never matches `contoso-eu@x`).
 */
const TEAM = /^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$/;
/** 1–64 of [A-Za-z0-9_-]: nothing systemd would read as a glob, specifier, path or unit suffix. */
const NAME = /^[A-Za-z0-9_-]{1,64}$/;

export function parseTeam(team: unknown): string {
  if (typeof team !== 'string' || !TEAM.test(team)) {
    throw new InvalidArgumentError(
      `team ${describe(team)} is invalid: use 1-32 of a-z, 0-9 and '-', starting and ending with a letter or digit`,
    );
  }
  return team;
}

export function parseStreamName(name: unknown): string {
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new InvalidArgumentError(
      `stream name ${describe(name)} is invalid: use 1-64 of A-Z, a-z, 0-9, '_' and '-'`,
    );
  }
  return name;
}

export function parseStreamRef(team: unknown, name: unknown): StreamRef {
  return Object.freeze({ team: parseTeam(team), name: parseStreamName(name) });
}

export function isValidTeam(team: string): boolean {
  return TEAM.test(team);
}

export function isValidStreamName(name: string): boolean {
  return NAME.test(name);
}

/** Quotes untrusted input for an error message: escaped, and cut short so a 1 MB name stays a line. */
function describe(value: unknown): string {
  if (typeof value !== 'string') return `of type ${typeof value}`;
  if (value === '') return 'is empty and';
  // Escape first, then cut: a control character escapes to six characters.
  const quoted = JSON.stringify(value);
  return quoted.length > 48 ? `${quoted.slice(0, 48)}…" (${value.length} characters)` : quoted;
}
