/**
 * One journal entry as `journalctl -o json` prints it (journalctl(1), "json": one object per line,
 * every value a string; a value that is not valid UTF-8 comes as an array of byte numbers), reduced
 * to the fields lit-stream reads. Field names are systemd's (systemd.journal-fields(7)).
 */
export interface JournalEntry {
  /** `__CURSOR`: where the entry is in the journal; `journalctl --after-cursor=` resumes after it. */
  readonly cursor: string;
  /** `__REALTIME_TIMESTAMP`: when journald received the entry, in µs since the epoch. */
  readonly realtimeUsec: bigint;
  /** `PRIORITY`: syslog level, 0 (emerg) to 7 (debug); 6 (info) when the entry has none. */
  readonly priority: number;
  /** `_PID`: the process that logged it. */
  readonly pid?: number;
  /** `MESSAGE`, decoded and cut to a bounded length (see cutMessage). */
  readonly message: string;
  /** `_SYSTEMD_UNIT`: the system unit of the sender's cgroup (trusted: journald sets it). */
  readonly systemdUnit?: string;
  /** `_SYSTEMD_USER_UNIT`: the user unit of the sender's cgroup (trusted: journald sets it). */
  readonly systemdUserUnit?: string;
  /**
   * `USER_INVOCATION_ID` (a user manager's lines about a unit) or `INVOCATION_ID` (the system
   * manager's): which run of the unit the line is about. Set by the sender, so only worth
   * anything on lines the manager wrote.
   */
  readonly invocationId?: string;
}

/** What to ask journalctl for (`--output-fields=`); it adds the cursor and timestamps itself. */
export const OUTPUT_FIELDS = ['MESSAGE', 'PRIORITY', '_PID', '_SYSTEMD_UNIT', '_SYSTEMD_USER_UNIT', 'USER_INVOCATION_ID', 'INVOCATION_ID'] as const;

/** Longest MESSAGE kept, in UTF-8 bytes; longer ones are cut and marked. */
export const MESSAGE_MAX_BYTES = 16 * 1024;

const DEFAULT_PRIORITY = 6;

/** Parses one line of `journalctl -o json`; undefined for a line that is not an entry. */
export function parseJournalJson(line: string, maxMessageBytes = MESSAGE_MAX_BYTES): JournalEntry | undefined {
  let fields: Record<string, unknown>;
  try {
    fields = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const cursor = fields.__CURSOR;
  const realtime = fields.__REALTIME_TIMESTAMP;
  if (typeof cursor !== 'string' || typeof realtime !== 'string' || !/^\d+$/.test(realtime)) return undefined;
  const priority = Number(decodeField(fields.PRIORITY));
  const pid = Number(decodeField(fields._PID));
  return {
    cursor,
    realtimeUsec: BigInt(realtime),
    priority: Number.isInteger(priority) && priority >= 0 && priority <= 7 ? priority : DEFAULT_PRIORITY,
    pid: Number.isInteger(pid) && pid > 0 ? pid : undefined,
    message: cutMessage(decodeField(fields.MESSAGE) ?? '', maxMessageBytes),
    systemdUnit: decodeField(fields._SYSTEMD_UNIT),
    systemdUserUnit: decodeField(fields._SYSTEMD_USER_UNIT),
    invocationId: decodeField(fields.USER_INVOCATION_ID) ?? decodeField(fields.INVOCATION_ID),
  };
}

/**
 * A field's text: strings as they are; an array of bytes (a value that is not UTF-8) decoded as
 * UTF-8 with U+FFFD for each invalid sequence, as `journalctl -o short` shows it; a field the
 * entry lacks (or that journalctl left out as `null`) is undefined. A field with several values
 * comes as an array of those; the last one counts.
 */
export function decodeField(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (!Array.isArray(value) || value.length === 0) return undefined;
  if (value.every((byte) => typeof byte === 'number')) return Buffer.from(value).toString('utf8');
  return decodeField(value[value.length - 1]);
}

/**
 * The text whole when it fits in `maxBytes` of UTF-8; otherwise its first `maxBytes` (never half a
 * character) and a marker saying how long it was, so a reader can tell a cut line from a short one.
 */
export function cutMessage(text: string, maxBytes = MESSAGE_MAX_BYTES): string {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxBytes) return text;
  // A streaming decoder holds back a trailing partial character instead of emitting U+FFFD.
  const head = new TextDecoder('utf-8').decode(bytes.subarray(0, maxBytes), { stream: true });
  return `${head}… [cut: ${bytes.length} bytes in all]`;
}

/**
 * A cursor as journalctl prints it: `s=<seqnum id>;i=<seqnum>;b=<boot id>;m=<monotonic>;
 * t=<realtime>;x=<hash>` (sd_journal_get_cursor(3) calls the format opaque; we only check that a
 * caller's cursor has its shape before handing it to journalctl, and read the sequence number to
 * order entries of one journal).
 */
const CURSOR = /^[a-z]=[0-9a-f]{1,64}(?:;[a-z]=[0-9a-f]{1,64}){0,15}$/;

export function isCursor(text: string): boolean {
  return text.length <= 512 && CURSOR.test(text);
}

/**
 * Whether `entry` comes after `other` in the journal. Entries journald wrote under one sequence
 * number id (`s=`) are ordered by sequence number (`i=`), exactly; otherwise by receive time.
 */
export function isAfter(entry: JournalEntry, other: JournalEntry): boolean {
  const a = cursorFields(entry.cursor);
  const b = cursorFields(other.cursor);
  if (a.s !== undefined && a.s === b.s && a.i !== undefined && b.i !== undefined) {
    return BigInt(`0x${a.i}`) > BigInt(`0x${b.i}`);
  }
  return entry.realtimeUsec > other.realtimeUsec;
}

function cursorFields(cursor: string): Record<string, string | undefined> {
  const fields: Record<string, string | undefined> = {};
  for (const part of cursor.split(';')) {
    const [key, value] = part.split('=', 2);
    if (key && value && /^[0-9a-f]+$/.test(value)) fields[key] = value;
  }
  return fields;
}
