import { zoneAbbreviation } from './zoneAbbreviation.js';

/**
 * Formatting as `systemctl status` prints it, so the client's `status()` reads the same as the
 * terminal people are used to.
 */

const IEC_UNITS = [
  ['E', 1024 ** 6],
  ['P', 1024 ** 5],
  ['T', 1024 ** 4],
  ['G', 1024 ** 3],
  ['M', 1024 ** 2],
  ['K', 1024],
] as const;

/**
 * systemd's format_bytes() with IEC units (src/basic/format-util.c): below 1024 `900B`; above, one
 * truncated decimal: 1024 → `1.0K`, 1500 → `1.4K`, 3 MiB → `3.0M`.
 */
export function formatBytes(bytes: number): string {
  for (const [suffix, factor] of IEC_UNITS) {
    if (bytes >= factor) {
      const whole = Math.floor(bytes / factor);
      const tenths = Math.floor(((bytes % factor) * 10) / factor);
      return `${whole}.${tenths}${suffix}`;
    }
  }
  return `${Math.floor(bytes)}B`;
}

/**
 * systemd's FORMAT_TIMESTAMP style, `%a %Y-%m-%d %H:%M:%S %Z`: `Wed 2024-07-24 13:32:23 CDT`, in
 * the given IANA zone (default: this process's zone, as systemctl uses the caller's). The zone's
 * abbreviation is tzdata's, as strftime's (see zoneAbbreviation); Intl's only where tzdata is not
 * there to ask.
 */
export function formatTimestamp(date: Date, timeZone?: string): string {
  const part = clockParts(date, timeZone, { weekday: 'short', year: 'numeric', month: '2-digit', day: '2-digit', timeZoneName: 'short' });
  return `${part('weekday')} ${part('year')}-${part('month')}-${part('day')} ${part('hour')}:${part('minute')}:${part('second')} ${zoneAbbreviation(date, timeZone) ?? part('timeZoneName')}`;
}

/**
 * The fields of `date` in `timeZone` (default: this process's) as en-US writes them, with the
 * time of day on a 24-hour clock — strftime's C locale, which systemctl and journalctl print in:
 * `fields` names the date fields wanted besides hour, minute and second.
 */
export function clockParts(date: Date, timeZone: string | undefined, fields: Intl.DateTimeFormatOptions): (type: Intl.DateTimeFormatPartTypes) => string {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone, ...fields, hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' }).formatToParts(date);
  return (type) => parts.find((p) => p.type === type)?.value ?? '';
}
