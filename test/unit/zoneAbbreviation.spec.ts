import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { zoneAbbreviation } from '../../clients/typescript/src/zoneAbbreviation.js';

/**
 * The oracle is tzcode's own: `zdump -v` lists each transition of a zone with the abbreviation one
 * second before it and at it, read from the same tzdata files.
 */
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
interface Transition {
  /** Seconds since the epoch of the transition. */
  readonly at: number;
  readonly before: string;
  readonly after: string;
}

/** Up to 2037: past that a "fat" file's table ends and the footer's rule decides (see below). */
function transitionsOf(zone: string): Transition[] {
  const lines = execFileSync('zdump', ['-v', '-c', '1800,2037', zone], { encoding: 'utf8' }).split('\n');
  const moments = lines.flatMap((line) => {
    const match = /^\S+\s+\w{3} (\w{3})\s+(\d+) (\d\d):(\d\d):(\d\d) (\d+) UT = .* (\S+) isdst=/.exec(line);
    if (!match) return [];
    const [, month, day, hour, minute, second, year, abbreviation] = match;
    const at = Date.UTC(Number(year), MONTHS.indexOf(month!), Number(day), Number(hour), Number(minute), Number(second)) / 1000;
    return [{ at, abbreviation: abbreviation! }];
  });
  const transitions: Transition[] = [];
  for (let i = 0; i + 1 < moments.length; i += 2) {
    expect(moments[i + 1]!.at - moments[i]!.at).toBe(1);
    transitions.push({ at: moments[i + 1]!.at, before: moments[i]!.abbreviation, after: moments[i + 1]!.abbreviation });
  }
  return transitions;
}

const at = (isoDate: string) => new Date(isoDate);
const SUMMER_2024 = at('2024-07-24T18:32:23Z');

const scratch = mkdtempSync(join(tmpdir(), 'lit-zones-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
afterEach(() => {
  vi.unstubAllEnvs();
});

/** A zone directory of our own, for $TZDIR: `name` holds `content`. */
function zoneDirectory(files: Record<string, Buffer | string>): string {
  const directory = mkdtempSync(join(scratch, 'zoneinfo-'));
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(join(directory, name, '..'), { recursive: true });
    writeFileSync(join(directory, name), content);
  }
  return directory;
}

describe("time zone abbreviations (what strftime's %Z and systemctl print)", () => {
  it.each([
    ['Europe/Berlin'],
    ['Europe/Dublin'],
    ['America/Chicago'],
    ['America/Sao_Paulo'],
    ['Asia/Tokyo'],
    ['Asia/Kolkata'],
    ['Australia/Lord_Howe'],
    ['Pacific/Apia'],
    ['Africa/Casablanca'],
  ])('%s: on each side of every transition tzdata lists up to 2037, as zdump says', (zone) => {
    const transitions = transitionsOf(zone);
    expect(transitions.length).toBeGreaterThan(0);
    for (const { at: seconds, before, after } of transitions) {
      const when = new Date(seconds * 1000).toISOString();
      expect(zoneAbbreviation(new Date(seconds * 1000 - 1000), zone), `${zone} a second before ${when}`).toBe(before);
      // The last millisecond before a transition is still the time before it.
      expect(zoneAbbreviation(new Date(seconds * 1000 - 1), zone), `${zone} a millisecond before ${when}`).toBe(before);
      expect(zoneAbbreviation(new Date(seconds * 1000), zone), `${zone} at ${when}`).toBe(after);
    }
  });

  it("before a zone's first transition: its first local time type (local mean time)", () => {
    expect(zoneAbbreviation(at('1800-01-01T00:00:00Z'), 'Europe/Berlin')).toBe('LMT');
    expect(zoneAbbreviation(at('1800-01-01T00:00:00Z'), 'Asia/Tokyo')).toBe('LMT');
  });

  it('a zone without transitions has one name at every instant', () => {
    for (const instant of ['1800-01-01T00:00:00Z', '1970-01-01T00:00:00Z', '2024-07-24T18:32:23Z', '2100-07-01T00:00:00Z']) {
      expect(zoneAbbreviation(at(instant), 'Etc/UTC')).toBe('UTC');
    }
  });

  it('past the table a zone that no longer changes keeps its last name; one that still changes has none (the caller asks Intl)', () => {
    expect(zoneAbbreviation(at('2100-07-01T00:00:00Z'), 'Asia/Tokyo')).toBe('JST');
    expect(zoneAbbreviation(at('2100-07-01T00:00:00Z'), 'America/Sao_Paulo')).toBe('-03');
    expect(zoneAbbreviation(at('2100-07-01T00:00:00Z'), 'Asia/Kolkata')).toBe('IST');
    expect(zoneAbbreviation(at('2100-07-01T00:00:00Z'), 'Europe/Berlin')).toBeUndefined();
    expect(zoneAbbreviation(at('2100-01-01T00:00:00Z'), 'America/Chicago')).toBeUndefined();
    // A rule with a DST part named in angle brackets, as tzdata writes numeric abbreviations.
    expect(zoneAbbreviation(at('2100-01-01T00:00:00Z'), 'Australia/Lord_Howe')).toBeUndefined();
  });

  describe('which zone', () => {
    it('without a zone: $TZ, with or without its leading colon, or an absolute path', () => {
      vi.stubEnv('TZ', 'Asia/Tokyo');
      expect(zoneAbbreviation(SUMMER_2024)).toBe('JST');
      vi.stubEnv('TZ', ':America/Chicago');
      expect(zoneAbbreviation(SUMMER_2024)).toBe('CDT');
      vi.stubEnv('TZ', '/usr/share/zoneinfo/Europe/London');
      expect(zoneAbbreviation(SUMMER_2024)).toBe('BST');
      expect(zoneAbbreviation(SUMMER_2024, '/usr/share/zoneinfo/Asia/Kolkata')).toBe('IST');
    });

    it("without a zone or $TZ: /etc/localtime, as date's %Z", () => {
      vi.stubEnv('TZ', undefined);
      const env = { ...process.env };
      delete env.TZ;
      const local = execFileSync('date', ['-d', '@1721845943', '+%Z'], { encoding: 'utf8', env }).trim();
      expect(zoneAbbreviation(SUMMER_2024)).toBe(local);
    });

    it('names under $TZDIR, else under /usr/share/zoneinfo', () => {
      const directory = zoneDirectory({ 'Ours/Tokyo': readFileSync('/usr/share/zoneinfo/Asia/Tokyo') });
      vi.stubEnv('TZDIR', directory);
      expect(zoneAbbreviation(SUMMER_2024, 'Ours/Tokyo')).toBe('JST');
      vi.stubEnv('TZDIR', '');
      expect(zoneAbbreviation(SUMMER_2024, 'Pacific/Auckland')).toBe('NZST');
    });

    it('none for a name that climbs out of the zone directory, even to a zone file', () => {
      expect(zoneAbbreviation(SUMMER_2024, '../zoneinfo/Asia/Tokyo')).toBeUndefined();
      expect(zoneAbbreviation(SUMMER_2024, 'Asia/../Asia/Tokyo')).toBeUndefined();
    });

    it('none, and no error, for an unknown zone or a file that is not a zone', () => {
      expect(zoneAbbreviation(SUMMER_2024, 'Nowhere/Atlantis')).toBeUndefined();
      const directory = zoneDirectory({ 'Ours/Text': 'TZ=Asia/Tokyo\n', 'Ours/Empty': '' });
      vi.stubEnv('TZDIR', directory);
      expect(zoneAbbreviation(SUMMER_2024, 'Ours/Text')).toBeUndefined();
      expect(zoneAbbreviation(SUMMER_2024, 'Ours/Empty')).toBeUndefined();
    });
  });

  it('reads a version 1 file (32-bit times, no footer): within its table as tzdata says; past it, none', () => {
    const version1 = Buffer.from(readFileSync('/usr/share/zoneinfo/Asia/Tokyo'));
    version1[4] = 0;
    const directory = zoneDirectory({ 'Old/Tokyo': version1 });
    vi.stubEnv('TZDIR', directory);
    expect(zoneAbbreviation(at('1948-07-01T00:00:00Z'), 'Old/Tokyo')).toBe('JDT');
    expect(zoneAbbreviation(at('1949-01-01T00:00:00Z'), 'Old/Tokyo')).toBe('JST');
    // Without a footer nothing says the zone stopped changing after its last transition.
    expect(zoneAbbreviation(SUMMER_2024, 'Old/Tokyo')).toBeUndefined();
  });
});
