import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The time zone abbreviation tzdata gives a zone at an instant — what strftime's `%Z` prints, so
 * what `systemctl status` (and the Python client, through zoneinfo) prints: `CEST`, `JST`, `-03`.
 * Intl cannot give it: its short names come from CLDR (`GMT+2` for Europe/Berlin in en-US).
 *
 * Read from the zone's TZif file (RFC 8536) under `$TZDIR` (default /usr/share/zoneinfo); the
 * local zone is `$TZ`, else /etc/localtime, as for libc. Undefined when there is no such file, or
 * the instant lies past the file's table of transitions in a zone that still changes (tzdata's
 * "fat" files list them up to 2037); the caller then falls back to Intl.
 */
export function zoneAbbreviation(date: Date, timeZone?: string): string | undefined {
  const table = zoneTable(timeZone);
  if (!table) return undefined;
  const seconds = Math.floor(date.getTime() / 1000);
  const { transitions, types, footerHasDst } = table;
  // The last transition at or before the instant; before the first one, time type 0 (RFC 8536 §3.2).
  let low = 0;
  let high = transitions.length - 1;
  let found = -1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    if (transitions[middle]!.at <= seconds) {
      found = middle;
      low = middle + 1;
    } else {
      high = middle - 1;
    }
  }
  if (found === transitions.length - 1 && found >= 0 && footerHasDst) return undefined;
  return found === -1 ? types[0] : types[transitions[found]!.type];
}

interface ZoneTable {
  readonly transitions: readonly { readonly at: number; readonly type: number }[];
  /** Each local time type's abbreviation, by index. */
  readonly types: readonly string[];
  /** The footer's TZ rule has a daylight saving part: after the last transition, it decides. */
  readonly footerHasDst: boolean;
}

const tables = new Map<string, ZoneTable | null>();

function zoneTable(timeZone: string | undefined): ZoneTable | null {
  const path = zonePath(timeZone);
  if (path === undefined) return null;
  let table = tables.get(path);
  if (table === undefined) {
    try {
      table = parseTzif(readFileSync(path));
    } catch {
      table = null;
    }
    tables.set(path, table);
  }
  return table;
}

function zonePath(timeZone: string | undefined): string | undefined {
  const name = timeZone ?? process.env.TZ?.replace(/^:/, '');
  if (name === undefined || name === '') return '/etc/localtime';
  if (name.startsWith('/')) return name;
  if (name.split('/').includes('..')) return undefined;
  return join(process.env.TZDIR || '/usr/share/zoneinfo', name);
}

/** RFC 8536: a version 1 block of 32-bit times, then (version 2+) the same with 64-bit times and a TZ-string footer. */
function parseTzif(file: Buffer): ZoneTable {
  if (file.toString('latin1', 0, 4) !== 'TZif') throw new Error('not a TZif file');
  const version = file[4]!;
  const header = (offset: number) => {
    const count = (index: number) => file.readUInt32BE(offset + 20 + 4 * index);
    return { isutcnt: count(0), isstdcnt: count(1), leapcnt: count(2), timecnt: count(3), typecnt: count(4), charcnt: count(5) };
  };
  const blockSize = (h: ReturnType<typeof header>, timeSize: number) =>
    h.timecnt * timeSize + h.timecnt + h.typecnt * 6 + h.charcnt + h.leapcnt * (timeSize + 4) + h.isstdcnt + h.isutcnt;

  let offset = 0;
  let timeSize = 4;
  let h = header(0);
  if (version >= 0x32) {
    offset = 44 + blockSize(h, 4);
    timeSize = 8;
    h = header(offset);
  }
  let at = offset + 44;
  const times: number[] = [];
  for (let i = 0; i < h.timecnt; i++, at += timeSize) {
    times.push(timeSize === 8 ? Number(file.readBigInt64BE(at)) : file.readInt32BE(at));
  }
  const transitions = times.map((time, i) => ({ at: time, type: file[at + i]! }));
  at += h.timecnt;
  const abbreviationsAt = at + h.typecnt * 6;
  const types: string[] = [];
  for (let i = 0; i < h.typecnt; i++) {
    const index = file[at + 6 * i + 5]!;
    const end = file.indexOf(0, abbreviationsAt + index);
    types.push(file.toString('latin1', abbreviationsAt + index, end));
  }
  // The footer, "\n<TZ string>\n": a rule with a DST part names a second abbreviation after the offset.
  const footer = version >= 0x32 ? file.toString('latin1', offset + 44 + blockSize(h, 8)).trim() : '';
  // Without a footer (version 1) what follows the table is unknown: treat it as changing.
  const footerHasDst = version < 0x32 || /^(<[^>]*>|[A-Za-z]+)[-+]?\d+(:\d+){0,2}(<[^>]*>|[A-Za-z]+)/.test(footer);
  return { transitions, types, footerHasDst };
}
