import { describe, expect, it } from 'vitest';
import { formatSpan } from '../../clients/typescript/src/cli/timespan.js';

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const WEEK = 7 * DAY;
const MONTH = 2_629_800_000; // 30.44 days, as systemd counts
const YEAR = 31_557_600_000; // 365.25 days

describe("spans as systemd's format_timestamp_relative() writes them, at each step", () => {
  it.each([
    [999, '999ms'],
    [SECOND, '1s'],
    [MINUTE - 1, '59s'],
    [MINUTE, '1min 0s'],
    [5 * MINUTE - 1, '4min 59s'],
    [5 * MINUTE, '5min'],
    [HOUR - 1, '59min'],
    [HOUR, '1h 0min'],
    [6 * HOUR - 1, '5h 59min'],
    [6 * HOUR, '6h'],
    [25 * HOUR - 1, '24h'],
    [25 * HOUR, '1 day 1h'],
    [2 * DAY - 1, '1 day 23h'],
    [2 * DAY, '2 days'],
    [WEEK - 1, '6 days'],
    [WEEK, '1 week 0 days'],
    [WEEK + DAY, '1 week 1 day'],
    [2 * WEEK + 2 * DAY, '2 weeks 2 days'],
    [MONTH - 1, '4 weeks 2 days'],
    [MONTH, '1 month 0 days'],
    [MONTH + DAY, '1 month 1 day'],
    [2 * MONTH + 2 * DAY, '2 months 2 days'],
    [YEAR - 1, '11 months 30 days'],
    [YEAR, '1 year 0 months'],
    [YEAR + MONTH, '1 year 1 month'],
    [2 * YEAR + 2 * MONTH, '2 years 2 months'],
  ])('%d ms is %j', (ms, text) => {
    expect(formatSpan(ms)).toBe(text);
  });
});
