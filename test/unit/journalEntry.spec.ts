import { describe, expect, it } from 'vitest';
import { cutMessage, decodeField, isAfter, isCursor, parseJournalJson } from '../../src/systemd/journalEntry.js';
import { journalctlArgs } from '../../src/systemd/journalctl.js';

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
  it('match the exact unit of the right manager, and nothing but a plain service name gets through', () => {
    const user = journalctlArgs({ directory: '/j', manager: 'user' }, 'lit-stream-contoso@bitcoin.service', { lines: 10 });
    expect(user).toContain('--directory=/j');
    expect(user).toContain('--user-unit=lit-stream-contoso@bitcoin.service');
    expect(user).toContain('--lines=10');
    const system = journalctlArgs({ manager: 'system' }, 'lit-stream-contoso@bitcoin.service', { afterCursor: CURSOR, follow: true });
    expect(system).toEqual(expect.arrayContaining(['--unit=lit-stream-contoso@bitcoin.service', `--after-cursor=${CURSOR}`, '--lines=all', '--follow']));
    expect(system.some((arg) => arg.startsWith('--directory'))).toBe(false);
    for (const unit of ['lit-stream-contoso@*.service', 'lit-stream-contoso@[ab].service', 'x.service --all', '-a.service x', '-a.service', 'lit-stream-contoso@bitcoin.socket']) {
      expect(() => journalctlArgs({ manager: 'user' }, unit, {})).toThrow(/not a plain service name/);
    }
  });
});
