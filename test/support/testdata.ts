import { readFileSync } from 'node:fs';

/**
 * clients/testdata: what the server and both clients share, read by the specs of each (the Python
 * client's tests read the same files). Each side keeps its own constants; the specs hold them here.
 */
function read<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(`../../clients/testdata/${name}`, import.meta.url), 'utf8')) as T;
}

/** By the API's enum value name, in the proto's order: systemd's word ('' for none). */
type Words = Readonly<Record<string, string>>;

export const states = read<{ loadStates: Words; activeStates: Words; usageSources: Words }>('states.json');

export const defaults = read<{
  address: string;
  readDeadlineSeconds: number;
  actionDeadlineSeconds: number;
  tailLines: number;
  maxTailLines: number;
  statusLogLines: number;
}>('defaults.json');

export const statusCodes = read<{ codes: Readonly<Record<string, number>> }>('statusCodes.json').codes;

/** A generated (ts-proto) enum's value names in the proto's order, without ts-proto's UNRECOGNIZED. */
export function enumValueNames(enumObject: Record<string, string | number>): string[] {
  return Object.entries(enumObject)
    .filter((entry): entry is [string, number] => typeof entry[1] === 'number' && entry[0] !== 'UNRECOGNIZED')
    .sort(([, a], [, b]) => a - b)
    .map(([name]) => name);
}

/** `[enum value name, word]` pairs, for `it.each`. */
export function pairs(words: Words): Array<[string, string]> {
  return Object.entries(words);
}
