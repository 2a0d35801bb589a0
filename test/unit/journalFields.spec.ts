import { describe, expect, it } from 'vitest';
import { cutMessage, decodeField, isAfterCursor, isCursor, type JournalEntry, parseJournalJson } from '../../src/systemd/journalEntry.js';

const CURSOR = 's=6f476040df5242feb36c52fb3b938456;i=1d;b=fedf5316fd8f4a6c918b6c997aa016b5;m=ce65e8fb;t=66120d5e0a808;x=7121606d89c29051';
const line = (fields: Record<string, unknown>) => JSON.stringify({ __CURSOR: CURSOR, __REALTIME_TIMESTAMP: '1795643515381768', ...fields });
const entry = (fields: Record<string, unknown>) => parseJournalJson(line(fields));

describe("what a journal entry's fields mean, and what is not an entry", () => {
  it.each([['null'], ['42'], ['"MESSAGE=hello"'], ['true'], ['[]']])('no entry from the JSON %s', (text) => {
    expect(parseJournalJson(text)).toBeUndefined();
  });

  it.each([['12x'], ['x12'], [''], ['1'.repeat(21)], [12]])('no entry with the receive time %j (digits only, µs)', (time) => {
    expect(entry({ __REALTIME_TIMESTAMP: time })).toBeUndefined();
  });

  it('a receive time of 20 digits is still one', () => {
    expect(entry({ __REALTIME_TIMESTAMP: '1'.repeat(20) })?.realtimeUsec).toBe(11111111111111111111n);
  });

  it('no entry without a cursor as text', () => {
    expect(entry({ __CURSOR: 7 })).toBeUndefined();
  });

  it.each([
    ['0', 0],
    ['7', 7],
    ['8', 6],
    ['-1', 6],
    ['3.5', 6],
    ['warning', 6],
  ])('PRIORITY=%s is priority %d (syslog 0-7, else info)', (priority, expected) => {
    expect(entry({ PRIORITY: priority })?.priority).toBe(expected);
  });

  it('takes a pid of at least 1, a uid or count of at least 0, and no number that is not plainly one', () => {
    expect(entry({ _PID: '1', _UID: '0', N_RESTARTS: '3', EXIT_STATUS: '0' })).toMatchObject({ pid: 1, uid: 0, restarts: 3, exitStatus: 0 });
    for (const bad of ['0', '12a', 'a12', '-3', '1e3', '1'.repeat(16)]) expect(entry({ _PID: bad })?.pid, bad).toBeUndefined();
    expect(entry({ _PID: '1'.repeat(15) })?.pid).toBe(111111111111111);
  });

  it('carries an optional field only when the entry has it', () => {
    const bare = entry({ MESSAGE: 'hello' })!;
    for (const key of ['invocationId', 'messageId', 'restarts', 'exitCode', 'unitResult', 'droppedCount']) expect(Object.keys(bare)).not.toContain(key);
    expect(entry({ MESSAGE: 'hello', UNIT_RESULT: 'exit-code' })).toHaveProperty('unitResult', 'exit-code');
  });

  it('reads a field of several values by its last, and a byte array only when all of it is bytes', () => {
    expect(decodeField([])).toBeUndefined();
    expect(decodeField([104, 'hi'])).toBe('hi');
    expect(decodeField(['a', [104, 105]])).toBe('hi');
  });

  it('keeps a message of exactly the limit whole, and cuts one byte more', () => {
    expect(cutMessage('a'.repeat(16), 16)).toBe('a'.repeat(16));
    expect(cutMessage('a'.repeat(17), 16)).toBe(`${'a'.repeat(16)}… [cut: 17 bytes in all]`);
  });

  it('marks as cut the beginning of a longer message, however short that beginning', () => {
    expect(cutMessage('abc', 16, 100)).toBe('abc… [cut: 100 bytes in all]');
    expect(cutMessage('abc', 16, 16)).toBe('abc');
  });
});

describe('journal cursors, at their limits', () => {
  it('takes a cursor of up to 512 characters', () => {
    const fields = Array.from({ length: 7 }, (_, i) => `${'abcdefg'[i]}=${'f'.repeat(64)}`).join(';');
    expect(isCursor(`${fields};h=${'0'.repeat(41)}`)).toBe(true);
    expect(`${fields};h=${'0'.repeat(41)}`).toHaveLength(512);
    expect(isCursor(`${fields};h=${'0'.repeat(42)}`)).toBe(false);
  });

  const at = (cursor: string, realtimeUsec: bigint) => ({ ...entry({})!, cursor, realtimeUsec }) as JournalEntry;

  it('orders entries of different journals by receive time, not by their sequence numbers', () => {
    expect(isAfterCursor(at('s=aa;i=5', 100n), 's=bb;i=9', 50n)).toBe(true);
    expect(isAfterCursor(at('s=aa;i=9', 50n), 's=bb;i=5', 100n)).toBe(false);
  });

  it("takes the time from the cursor's t= when the entry's is not known, and 0 without one", () => {
    expect(isAfterCursor(at('s=aa;i=1', 0x20n), 's=bb;i=9;t=10')).toBe(true);
    expect(isAfterCursor(at('s=aa;i=1', 0x10n), 's=bb;i=9;t=10')).toBe(false);
    expect(isAfterCursor(at('s=aa;i=1', 1n), 's=bb;i=9')).toBe(true);
  });

  it('ignores a cursor field that is not hex, and orders by time instead', () => {
    expect(isAfterCursor(at('s=aa;i=5', 100n), 's=aa;i=9g', 50n)).toBe(true);
    expect(isAfterCursor(at('s=aa;i=5', 100n), 's=aa;i=g9', 50n)).toBe(true);
  });
});
