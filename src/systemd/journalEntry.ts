/**
 * One journal entry as `journalctl -o json` prints it (journalctl(1), "json": one object per line,
 * every value a string; a value that is not valid UTF-8 comes as an array of byte numbers), reduced
 * to the fields lit-stream reads. Field names are systemd's (systemd.journal-fields(7)); fields
 * whose names start with `_` are set by journald from the sender's credentials ("trusted"), the
 * others by the sender.
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
  /** `_UID`: the user the sender ran as. */
  readonly uid?: number;
  /** `MESSAGE`, decoded and cut to a bounded length (see cutMessage). */
  readonly message: string;
  /** `_SYSTEMD_UNIT`: the system unit of the sender's cgroup (trusted: journald sets it). */
  readonly systemdUnit?: string;
  /** `_SYSTEMD_USER_UNIT`: the user unit of the sender's cgroup (trusted: journald sets it). */
  readonly systemdUserUnit?: string;
  /**
   * `_SYSTEMD_INVOCATION_ID`: the run of the sender's unit (trusted). journald reads it from the
   * cgroup's `trusted.invocation_id` attribute, which only the system manager sets: a user
   * manager's workers' lines come without it.
   */
  readonly systemdInvocationId?: string;
  /**
   * `USER_INVOCATION_ID` (a user manager's lines about a unit) or `INVOCATION_ID` (the system
   * manager's): which run of the unit the line is about. Set by the sender, so only worth
   * anything on lines the manager wrote.
   */
  readonly invocationId?: string;
  /** `MESSAGE_ID`: the catalog id of a structured entry (sd-messages.h; see journalMessages.ts). */
  readonly messageId?: string;
  /** `UNIT`: the unit the system manager's line is about (set by the sender). */
  readonly aboutUnit?: string;
  /** `USER_UNIT`: the unit a user manager's line is about (set by the sender). */
  readonly aboutUserUnit?: string;
  /** `OBJECT_SYSTEMD_UNIT`/`OBJECT_SYSTEMD_USER_UNIT`: the unit journald's own notice is about. */
  readonly objectUnit?: string;
  readonly objectUserUnit?: string;
  /** `COREDUMP_UNIT`/`COREDUMP_USER_UNIT`: the unit whose process dumped core (systemd-coredump). */
  readonly coredumpUnit?: string;
  readonly coredumpUserUnit?: string;
  /** `N_DROPPED`: how many messages journald's rate limit suppressed (its "Suppressed N messages"). */
  readonly droppedCount?: number;
  /** `EXIT_CODE`: how a unit's process ended, as systemd says it: `exited`, `killed` or `dumped`. */
  readonly exitCode?: string;
  /** `EXIT_STATUS`: its exit status (`exited`) or signal number (`killed`, `dumped`). */
  readonly exitStatus?: number;
  /** `COMMAND`: which of the unit's commands the process ran (`ExecStart`, `ExecStartPre`, ...). */
  readonly command?: string;
  /** `UNIT_RESULT`: the unit's result when it failed (`exit-code`, `signal`, `timeout`, ...). */
  readonly unitResult?: string;
  /** `N_RESTARTS`: systemd's restart counter when it scheduled an automatic restart. */
  readonly restarts?: number;
}

/**
 * What to ask journalctl for (`--output-fields=`); it adds the cursor and timestamps itself. Each
 * is one that matchers (journalctl.ts) and readers of runs (journalRuns.ts) check.
 */
export const OUTPUT_FIELDS = [
  'MESSAGE',
  'PRIORITY',
  '_PID',
  '_UID',
  '_SYSTEMD_UNIT',
  '_SYSTEMD_USER_UNIT',
  '_SYSTEMD_INVOCATION_ID',
  'USER_INVOCATION_ID',
  'INVOCATION_ID',
  'MESSAGE_ID',
  'UNIT',
  'USER_UNIT',
  'OBJECT_SYSTEMD_UNIT',
  'OBJECT_SYSTEMD_USER_UNIT',
  'COREDUMP_UNIT',
  'COREDUMP_USER_UNIT',
  'N_DROPPED',
  'EXIT_CODE',
  'EXIT_STATUS',
  'COMMAND',
  'UNIT_RESULT',
  'N_RESTARTS',
] as const;

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
  if (fields === null || typeof fields !== 'object') return undefined;
  return journalEntryOf(fields, maxMessageBytes);
}

/**
 * The entry of a line's fields, parsed already. `messageBytes`, when given, is how long MESSAGE was
 * in all, for a message whose text (`fields.MESSAGE`) is only its beginning (journalJson.ts reads
 * lines too long to hold whole that way).
 */
export function journalEntryOf(fields: Record<string, unknown>, maxMessageBytes = MESSAGE_MAX_BYTES, messageBytes?: number): JournalEntry | undefined {
  const cursor = fields.__CURSOR;
  const realtime = fields.__REALTIME_TIMESTAMP;
  if (typeof cursor !== 'string' || typeof realtime !== 'string' || !/^\d{1,20}$/.test(realtime)) return undefined;
  const priority = Number(decodeField(fields.PRIORITY));
  const text = decodeField(fields.MESSAGE) ?? '';
  // A message that is not UTF-8 is as long as its bytes, not as its text with U+FFFD for them.
  messageBytes ??= isByteArray(fields.MESSAGE) ? fields.MESSAGE.length : undefined;
  const entry: Record<string, unknown> = {
    cursor,
    realtimeUsec: BigInt(realtime),
    priority: Number.isInteger(priority) && priority >= 0 && priority <= 7 ? priority : DEFAULT_PRIORITY,
    pid: count(fields._PID, 1),
    uid: count(fields._UID, 0),
    message: cutMessage(text, maxMessageBytes, messageBytes),
    systemdUnit: decodeField(fields._SYSTEMD_UNIT),
    systemdUserUnit: decodeField(fields._SYSTEMD_USER_UNIT),
  };
  // Optional fields are only set when present, so that entries compare and print compactly.
  const optional: Record<string, unknown> = {
    systemdInvocationId: decodeField(fields._SYSTEMD_INVOCATION_ID),
    invocationId: decodeField(fields.USER_INVOCATION_ID) ?? decodeField(fields.INVOCATION_ID),
    messageId: decodeField(fields.MESSAGE_ID),
    aboutUnit: decodeField(fields.UNIT),
    aboutUserUnit: decodeField(fields.USER_UNIT),
    objectUnit: decodeField(fields.OBJECT_SYSTEMD_UNIT),
    objectUserUnit: decodeField(fields.OBJECT_SYSTEMD_USER_UNIT),
    coredumpUnit: decodeField(fields.COREDUMP_UNIT),
    coredumpUserUnit: decodeField(fields.COREDUMP_USER_UNIT),
    droppedCount: count(fields.N_DROPPED, 0),
    exitCode: decodeField(fields.EXIT_CODE),
    exitStatus: count(fields.EXIT_STATUS, 0),
    command: decodeField(fields.COMMAND),
    unitResult: decodeField(fields.UNIT_RESULT),
    restarts: count(fields.N_RESTARTS, 0),
  };
  for (const [key, value] of Object.entries(optional)) if (value !== undefined) entry[key] = value;
  return entry as unknown as JournalEntry;
}

/** A field holding a whole number of at least `min` (a pid, a uid, a count); else undefined. */
function count(value: unknown, min: number): number | undefined {
  const text = decodeField(value);
  if (text === undefined || !/^\d{1,15}$/.test(text)) return undefined;
  const n = Number(text);
  return n >= min ? n : undefined;
}

function isByteArray(value: unknown): value is number[] {
  return Array.isArray(value) && value.length > 0 && value.every((byte) => typeof byte === 'number');
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
  if (isByteArray(value)) return Buffer.from(value).toString('utf8');
  return decodeField(value[value.length - 1]);
}

/**
 * The text whole when it fits in `maxBytes` of UTF-8; otherwise its first `maxBytes` (never half a
 * character) and a marker saying how long it was (`bytesInAll`, when the text is only the start
 * of a longer message), so a reader can tell a cut line from a short one.
 */
export function cutMessage(text: string, maxBytes = MESSAGE_MAX_BYTES, bytesInAll?: number): string {
  const bytes = Buffer.from(text, 'utf8');
  const length = bytesInAll ?? bytes.length;
  if (length <= maxBytes && bytes.length <= maxBytes) return text;
  // A streaming decoder holds back a trailing partial character instead of emitting U+FFFD.
  const head = new TextDecoder('utf-8').decode(bytes.subarray(0, maxBytes), { stream: true });
  return `${head}… [cut: ${length} bytes in all]`;
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

/** Whether `entry` comes after `other` in the journal (see isAfterCursor). */
export function isAfter(entry: JournalEntry, other: JournalEntry): boolean {
  return isAfterCursor(entry, other.cursor, other.realtimeUsec);
}

/**
 * Whether `entry` comes after the entry at `cursor` in the journal. Entries journald wrote under
 * one sequence number id (`s=`) are ordered by sequence number (`i=`), exactly; otherwise by
 * receive time (`realtimeUsec`, or the cursor's own `t=`).
 */
export function isAfterCursor(entry: JournalEntry, cursor: string, realtimeUsec?: bigint): boolean {
  const a = cursorFields(entry.cursor);
  const b = cursorFields(cursor);
  if (a.s !== undefined && a.s === b.s && a.i !== undefined && b.i !== undefined) {
    return BigInt(`0x${a.i}`) > BigInt(`0x${b.i}`);
  }
  const time = realtimeUsec ?? (b.t !== undefined ? BigInt(`0x${b.t}`) : 0n);
  return entry.realtimeUsec > time;
}

function cursorFields(cursor: string): Record<string, string | undefined> {
  const fields: Record<string, string | undefined> = {};
  for (const part of cursor.split(';')) {
    const [key, value] = part.split('=', 2);
    if (key && value && /^[0-9a-f]{1,64}$/.test(value)) fields[key] = value;
  }
  return fields;
}
