import { describe, expect, it } from 'vitest';
import { cutMessage, decodeField, isAfter, isCursor, parseJournalJson } from '../../src/systemd/journalEntry.js';
import { Readable } from 'node:stream';
import { entryOrigin, journalctlArgs } from '../../src/systemd/journalctl.js';
import { journalEntries } from '../../src/systemd/journalJson.js';
import { MESSAGE_IDS } from '../../src/systemd/journalMessages.js';

const CURSOR = 's=6f476040df5242feb36c52fb3b938456;i=1d;b=fedf5316fd8f4a6c918b6c997aa016b5;m=ce65e8fb;t=66120d5e0a808;x=7121606d89c29051';

const line = (fields: Record<string, unknown>) =>
  JSON.stringify({ __CURSOR: CURSOR, __REALTIME_TIMESTAMP: '1795643515381768', ...fields });

describe('a journal entry read from journalctl -o json', () => {
  it('has its cursor, time in µs, priority, pid and message', () => {
    const entry = parseJournalJson(line({ MESSAGE: 'hello', PRIORITY: '3', _PID: '42', _SYSTEMD_USER_UNIT: 'a.service' }));
    expect(entry).toEqual({
      cursor: CURSOR,
      realtimeUsec: 1795643515381768n,
      priority: 3,
      pid: 42,
      message: 'hello',
      systemdUnit: undefined,
      systemdUserUnit: 'a.service',
    });
  });

  it('defaults to priority 6 (info) and no pid when the entry has neither', () => {
    expect(parseJournalJson(line({ MESSAGE: 'x' }))).toMatchObject({ priority: 6, pid: undefined });
    expect(parseJournalJson(line({ MESSAGE: 'x', PRIORITY: '9' }))?.priority).toBe(6);
  });

  it('decodes a message that is not UTF-8 (an array of bytes) instead of dropping it', () => {
    expect(parseJournalJson(line({ MESSAGE: [255, 254, 32, 98, 97, 100] }))?.message).toBe('\uFFFD\uFFFD bad');
    expect(decodeField([104, 105])).toBe('hi');
    expect(decodeField(null)).toBeUndefined();
    expect(decodeField(['first', 'second'])).toBe('second');
  });

  it('is not made from a line without a cursor or a time', () => {
    expect(parseJournalJson('{"MESSAGE":"x"}')).toBeUndefined();
    expect(parseJournalJson('not json')).toBeUndefined();
  });

  it('cuts a long message at a character boundary and says how long it was', () => {
    const long = 'é'.repeat(40_000); // 80,000 bytes
    const cut = cutMessage(long, 16 * 1024 + 1); // the limit falls inside a two-byte character
    expect(cut).toMatch(/^é+… \[cut: 80000 bytes in all\]$/);
    expect(Buffer.byteLength(cut.slice(0, cut.indexOf('…')))).toBe(16 * 1024);
    expect(cutMessage('short', 16)).toBe('short');
  });
});

describe('journal cursors', () => {
  it('accepts the shape journalctl prints and nothing that could be read as an option or a glob', () => {
    expect(isCursor(CURSOR)).toBe(true);
    for (const bad of ['', '--all', 's=1;i=*', 'garbage', `${CURSOR} `, 's=1\ni=2', 'x'.repeat(600)]) expect(isCursor(bad)).toBe(false);
  });

  it('orders entries of one journal by sequence number, not by time', () => {
    const at = (seqnum: string, usec: bigint) => ({ ...parseJournalJson(line({ MESSAGE: '' }))!, cursor: `s=aa;i=${seqnum};b=bb`, realtimeUsec: usec });
    expect(isAfter(at('1e', 1n), at('1d', 5n))).toBe(true);
    expect(isAfter(at('1d', 5n), at('1d', 5n))).toBe(false);
    const other = { ...at('1', 10n), cursor: 's=cc;i=1' };
    expect(isAfter(other, at('ff', 5n))).toBe(true);
  });
});

describe('journalctl arguments', () => {
  it('match the exact unit by trusted fields of the right manager, and nothing but a plain service name gets through', () => {
    const unit = 'lit-stream-contoso@bitcoin.service';
    const user = journalctlArgs({ directory: '/j', manager: 'user', uid: 1000 }, unit, { lines: 10 });
    expect(user).toContain('--directory=/j');
    expect(user).toContain('--lines=10');
    expect(user.slice(user.indexOf('--') + 1).join(' ')).toBe(
      `USER_UNIT=${unit} _SYSTEMD_USER_UNIT=init.scope _UID=1000 + _SYSTEMD_USER_UNIT=${unit} _UID=1000 + ` +
        `COREDUMP_USER_UNIT=${unit} MESSAGE_ID=${MESSAGE_IDS.coredump} _UID=0 + ` +
        `OBJECT_SYSTEMD_USER_UNIT=${unit} MESSAGE_ID=${MESSAGE_IDS.journalDropped} _SYSTEMD_UNIT=systemd-journald.service`,
    );
    const system = journalctlArgs({ manager: 'system' }, unit, { afterCursor: CURSOR, follow: true });
    expect(system).toEqual(expect.arrayContaining([`_SYSTEMD_UNIT=${unit}`, `UNIT=${unit}`, '_PID=1', `--after-cursor=${CURSOR}`, '--lines=all', '--follow']));
    expect(system.some((arg) => arg.startsWith('--directory') || arg.startsWith('--unit') || arg.startsWith('--user-unit'))).toBe(false);
    // The matches come after `--`: none of them is read as an option.
    expect(system.indexOf('--')).toBeLessThan(system.indexOf(`_SYSTEMD_UNIT=${unit}`));
    const manager = journalctlArgs({ manager: 'user', uid: 0 }, unit, { only: 'manager', reverse: true });
    expect(manager.slice(manager.indexOf('--') + 1)).toEqual([`USER_UNIT=${unit}`, '_SYSTEMD_USER_UNIT=init.scope', '_UID=0']);
    expect(manager).toContain('--reverse');
    for (const bad of ['lit-stream-contoso@*.service', 'lit-stream-contoso@[ab].service', 'x.service --all', '-a.service x', '-a.service', 'lit-stream-contoso@bitcoin.socket']) {
      expect(() => journalctlArgs({ manager: 'user' }, bad, {})).toThrow(/not a plain service name/);
    }
  });
});

describe("who wrote an entry about a unit, judged as journalctl's matches judge it", () => {
  const unit = 'lit-stream-contoso@feed.service';
  const user = { manager: 'user' as const, uid: 1000 };
  const system = { manager: 'system' as const };
  const entry = (fields: Record<string, unknown>) => parseJournalJson(line(fields))!;

  it("takes the unit's processes, its manager, systemd-coredump and journald's gap notices", () => {
    expect(entryOrigin(entry({ _SYSTEMD_USER_UNIT: unit, _UID: '1000' }), user, unit)).toBe('unit');
    expect(entryOrigin(entry({ USER_UNIT: unit, _SYSTEMD_USER_UNIT: 'init.scope', _UID: '1000' }), user, unit)).toBe('manager');
    expect(entryOrigin(entry({ COREDUMP_USER_UNIT: unit, MESSAGE_ID: MESSAGE_IDS.coredump, _UID: '0' }), user, unit)).toBe('manager');
    const gap = entry({ OBJECT_SYSTEMD_USER_UNIT: unit, MESSAGE_ID: MESSAGE_IDS.journalDropped, _SYSTEMD_UNIT: 'systemd-journald.service', N_DROPPED: '211' });
    expect(entryOrigin(gap, user, unit)).toBe('journal');
    expect(gap.droppedCount).toBe(211);
    expect(entryOrigin(entry({ _SYSTEMD_UNIT: unit }), system, unit)).toBe('unit');
    expect(entryOrigin(entry({ UNIT: unit, _PID: '1' }), system, unit)).toBe('manager');
  });

  it('refuses every field another process may set in its own entries', () => {
    const forged = [
      { USER_UNIT: unit, _SYSTEMD_USER_UNIT: 'lit-stream-other@x.service', _UID: '1000' },
      { USER_UNIT: unit, _SYSTEMD_USER_UNIT: 'init.scope', _UID: '1001' }, // another user's manager
      { _SYSTEMD_USER_UNIT: unit, _UID: '1001' }, // another user's unit of the same name
      { OBJECT_SYSTEMD_USER_UNIT: unit, MESSAGE_ID: MESSAGE_IDS.journalDropped, _SYSTEMD_USER_UNIT: 'lit-stream-other@x.service' },
      { COREDUMP_USER_UNIT: unit, MESSAGE_ID: MESSAGE_IDS.coredump, _UID: '1000' },
      { UNIT: unit, OBJECT_SYSTEMD_UNIT: unit, COREDUMP_UNIT: unit },
    ];
    for (const fields of forged) expect(entryOrigin(entry(fields), user, unit)).toBeUndefined();
    expect(entryOrigin(entry({ UNIT: unit, _PID: '1234' }), system, unit)).toBeUndefined();
    expect(entryOrigin(entry({ USER_UNIT: unit, _SYSTEMD_USER_UNIT: 'init.scope' }), system, unit)).toBeUndefined();
  });
});

describe('a journalctl line too long to hold whole', () => {
  const stream = (lines: Buffer[]) => Readable.from(lines.map((bytes) => Buffer.concat([bytes, Buffer.from('\n')])));
  const read = async (lines: Buffer[], maxLineBytes?: number) => {
    const entries = [];
    for await (const entry of journalEntries(stream(lines), maxLineBytes)) entries.push(entry);
    return entries;
  };

  it('still yields its entry, the message cut with its true length, and the entries around it', async () => {
    const huge = 'x'.repeat(3 * 1024 * 1024);
    const entries = await read([
      Buffer.from(line({ MESSAGE: 'before' })),
      // MESSAGE before the trusted fields, as journald may store them.
      Buffer.from(line({ MESSAGE: `a "quoted" \u0007 ${huge}`, _SYSTEMD_USER_UNIT: 'a.service', _PID: '7' })),
      Buffer.from(line({ MESSAGE: 'after' })),
    ]);
    expect(entries.map((entry) => entry.message.slice(0, 12))).toEqual(['before', 'a "quoted" \u0007'.slice(0, 12), 'after']);
    const long = entries[1]!;
    expect(long.systemdUserUnit).toBe('a.service');
    expect(long.pid).toBe(7);
    expect(long.cursor).toBe(CURSOR);
    const bytes = Buffer.byteLength(`a "quoted" \u0007 ${huge}`);
    expect(long.message).toMatch(new RegExp(`… \\[cut: ${bytes} bytes in all\\]$`));
    expect(long.message.startsWith('a "quoted" \u0007 xxx')).toBe(true);
  });

  it('counts a message that is not UTF-8 (an array of bytes) by its bytes', async () => {
    const bytes = Array.from({ length: 40_000 }, (_, i) => (i % 2 ? 0xff : 0x41));
    const [entry] = await read([Buffer.from(line({ MESSAGE: bytes }))], 64 * 1024);
    expect(entry?.message).toMatch(/^A\uFFFDA\uFFFD.*… \[cut: 40000 bytes in all\]$/s);
  });
});
