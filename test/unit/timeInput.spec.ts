import { describe, expect, it } from 'vitest';
import { parseSince, parseTimespan } from '../../clients/typescript/src/cli/since.js';
import { UsageError } from '../../clients/typescript/src/cli/usageError.js';

// systemd.time(7), "PARSING TIME SPANS": every unit it names, in ms.
const UNITS: readonly [readonly string[], number][] = [
  [['usec', 'us', 'µs'], 0.001],
  [['msec', 'ms'], 1],
  [['seconds', 'second', 'sec', 's'], 1_000],
  [['minutes', 'minute', 'min', 'm'], 60_000],
  [['hours', 'hour', 'hr', 'h'], 3_600_000],
  [['days', 'day', 'd'], 86_400_000],
  [['weeks', 'week', 'w'], 604_800_000],
  [['months', 'month', 'M'], 2_629_800_000],
  [['years', 'year', 'y'], 31_557_600_000],
];

describe('time spans, as systemd.time(7) reads them (--since -1h, 10min ago)', () => {
  it.each(UNITS.flatMap(([names, ms]) => names.map((name) => [name, ms] as const)))('2%s is twice %d ms', (unit, ms) => {
    expect(parseTimespan(`2${unit}`)).toBeCloseTo(2 * ms, 9);
    expect(parseTimespan(`2 ${unit}`)).toBeCloseTo(2 * ms, 9);
  });

  it.each([
    ['90', 90_000, 'a number alone is seconds'],
    ['1h 30min', 5_400_000, 'parts add up'],
    ['1h30min', 5_400_000, 'with or without spaces between them'],
    ['1.5h', 5_400_000, 'fractions'],
    ['  2 weeks ', 1_209_600_000, 'blanks around'],
    ['0', 0, 'nothing at all'],
  ])('%j is %d ms (%s)', (text, ms) => {
    expect(parseTimespan(text)).toBe(ms);
  });

  it.each([[''], ['h'], ['1 fortnight'], ['1h and 2min'], ['-1h'], ['1.h'], ['.5h'], ['1h,']])('%j is no time span', (text) => {
    expect(parseTimespan(text)).toBeUndefined();
  });
});

describe('--since TIME, as journalctl reads it', () => {
  const now = new Date('2026-11-25T20:00:00Z');

  it.each([
    [' now ', '2026-11-25T20:00:00.000Z'],
    ['- 1h', '2026-11-25T19:00:00.000Z'],
    ['+1h', '2026-11-25T21:00:00.000Z'],
    ['10min left', '2026-11-25T20:10:00.000Z'],
    ['1d ago', '2026-11-24T20:00:00.000Z'],
    ['@1764000000.5', '2025-11-24T16:00:00.500Z'],
    ['@0', '1970-01-01T00:00:00.000Z'],
    ['2026-11-25T13:32:23+01:00', '2026-11-25T12:32:23.000Z'],
  ])('%j → %s', (text, iso) => {
    expect(parseSince(text, now).toISOString()).toBe(iso);
  });

  // Whatever the machine's zone; in one east of UTC (TZ=Asia/Tokyo, as `npm run mutate` runs
  // them) it is already the 26th locally when it is 20:00 UTC on the 25th.
  it("without UTC a date or time is local; with it, UTC", () => {
    expect(parseSince('2026-11-25 13:32:23 UTC', now)).toEqual(new Date(Date.UTC(2026, 10, 25, 13, 32, 23)));
    expect(parseSince('2026-11-25 13:32:23', now)).toEqual(new Date(2026, 10, 25, 13, 32, 23));
    expect(parseSince('13:32 UTC', now)).toEqual(new Date(Date.UTC(2026, 10, 25, 13, 32)));
    expect(parseSince('13:32', now)).toEqual(new Date(now.getFullYear(), now.getMonth(), now.getDate(), 13, 32));
    expect(parseSince('2026-11-25 UTC', now)).toEqual(new Date(Date.UTC(2026, 10, 25)));
  });

  it("today, tomorrow and yesterday begin at the local midnight", () => {
    const midnight = (days: number) => new Date(now.getFullYear(), now.getMonth(), now.getDate() + days);
    expect(parseSince('today', now)).toEqual(midnight(0));
    expect(parseSince('tomorrow', now)).toEqual(midnight(1));
    expect(parseSince('yesterday', now)).toEqual(midnight(-1));
  });

  it('takes the last second of a day and a weekday before the date', () => {
    expect(parseSince('2026-11-25 23:59:59', now)).toEqual(new Date(2026, 10, 25, 23, 59, 59));
    expect(parseSince('Wednesday 2026-11-25 00:00', now)).toEqual(new Date(2026, 10, 25));
  });

  it.each([
    ['24:00'],
    ['12:60'],
    ['12:00:60'],
    ['2026-02-30'],
    ['2026-02-30 UTC'],
    ['2026-11-25 13'],
    ['@'],
    ['@soon'],
    ['-'],
    ['+1 fortnight'],
    ['1 fortnight ago'],
    ['2026-11-25Tnoon'],
    ['UTC'],
    ['On 2026-11-25'],
    ['2026-11-25 13:32 CET'],
  ])('rejects %j as wrong usage, quoting it with examples', (text) => {
    expect(() => parseSince(text, now)).toThrow(
      new UsageError(`--since: cannot read '${text}' as a time (e.g. '2026-11-25 13:32', 'today', '-1h', '10min ago')`),
    );
  });
});
