import { describe, expect, it } from 'vitest';
import { formatBytes, formatTimestamp } from '../../clients/typescript/src/format.js';

describe('formatBytes (as systemctl status prints memory)', () => {
  it.each([
    [0, '0B'],
    [1, '1B'],
    [900, '900B'],
    [1023, '1023B'],
    [1024, '1.0K'],
    [1500, '1.4K'],
    [1024 * 1024 - 1, '1023.9K'],
    [3 * 1024 ** 2, '3.0M'],
    [Math.floor(3.35 * 1024 ** 3), '3.3G'],
    [5 * 1024 ** 4, '5.0T'],
    [2 * 1024 ** 5, '2.0P'],
    [1024 ** 6, '1.0E'],
  ])('formats %d bytes as %s', (bytes, expected) => {
    expect(formatBytes(bytes)).toBe(expected);
  });

  it('truncates the tenths instead of rounding them', () => {
    expect(formatBytes(Math.floor(1024 * 1.99))).toBe('1.9K');
    expect(formatBytes(Math.floor(1024 ** 2 * 2.999))).toBe('2.9M');
    expect(formatBytes(Math.floor(1024 ** 3 * 9.99))).toBe('9.9G');
  });

  it('switches unit exactly at each power of 1024', () => {
    expect(formatBytes(1024 ** 2 - 1).endsWith('K')).toBe(true);
    expect(formatBytes(1024 ** 2)).toBe('1.0M');
    expect(formatBytes(1024 ** 3 - 1).endsWith('M')).toBe(true);
    expect(formatBytes(1024 ** 3)).toBe('1.0G');
  });
});

describe('formatTimestamp (as systemctl status prints times)', () => {
  const moment = new Date('2024-07-24T18:32:23Z');

  it('prints weekday, date, 24-hour time and zone abbreviation in the given zone', () => {
    expect(formatTimestamp(moment, 'America/Chicago')).toBe('Wed 2024-07-24 13:32:23 CDT');
  });

  it('prints UTC as UTC', () => {
    expect(formatTimestamp(moment, 'UTC')).toBe('Wed 2024-07-24 18:32:23 UTC');
  });

  it('uses the winter abbreviation outside daylight saving time', () => {
    expect(formatTimestamp(new Date('2024-01-15T12:00:00Z'), 'America/Chicago')).toBe('Mon 2024-01-15 06:00:00 CST');
  });

  it("shows midnight as hour '00', not '24'", () => {
    expect(formatTimestamp(new Date('2024-07-25T00:00:05Z'), 'UTC')).toBe('Thu 2024-07-25 00:00:05 UTC');
    expect(formatTimestamp(new Date('2024-07-25T05:00:00Z'), 'America/Chicago')).toBe('Thu 2024-07-25 00:00:00 CDT');
  });

  it('pads single-digit months, days, hours, minutes and seconds with a zero', () => {
    expect(formatTimestamp(new Date('2024-03-05T07:08:09Z'), 'UTC')).toBe('Tue 2024-03-05 07:08:09 UTC');
  });

  it('uses the local date in the given zone, even when it differs from the UTC date', () => {
    expect(formatTimestamp(new Date('2024-07-25T02:00:00Z'), 'America/Chicago')).toBe('Wed 2024-07-24 21:00:00 CDT');
  });
});
