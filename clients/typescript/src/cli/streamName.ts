import { UsageError } from './usageError.js';

/** A stream as the command line names it: `TEAM/NAME`. */
export interface StreamName {
  readonly team: string;
  readonly name: string;
}

/**
 * Splits `TEAM/NAME`. Only the shape is checked here; which characters a team or name may hold is
 * the server's rule (INVALID_ARGUMENT), kept in one place.
 */
export function parseStreamName(argument: string): StreamName {
  const parts = argument.split('/');
  if (parts.length !== 2 || !parts[0] || !parts[1]) throw new UsageError(`expected TEAM/NAME, got '${argument}'`);
  return { team: parts[0], name: parts[1] };
}

export function formatStreamName({ team, name }: StreamName): string {
  return `${team}/${name}`;
}
