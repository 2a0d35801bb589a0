import { afterEach, describe, expect, it, vi } from 'vitest';
import { lastRun, type RecentLines, RunLines, type ShownUnits } from '../../src/control/runLines.js';
import type { RecentOptions } from '../../src/control/streamLogs.js';
import type { LogLine } from '../../src/core/logLine.js';
import type { StreamRef } from '../../src/core/streamRef.js';
import { JournalUnavailableError } from '../../src/systemd/journalctl.js';
import type { UnitProperties } from '../../src/systemd/manager.js';

const REF: StreamRef = { team: 'contoso', name: 'bitcoin' };
const UNIT = 'lit-stream-contoso@bitcoin.service';
const INVOCATION = Uint8Array.from({ length: 16 }, (_, i) => i + 1);
const INVOCATION_HEX = '0102030405060708090a0b0c0d0e0f10';

function line(message: string, source: LogLine['source'] = 'worker', priority = 6): LogLine {
  return { timeUsec: 1n, priority, message, cursor: `c-${message}`, source };
}

/** A journal that answers each read with the next of `answers` (the last one again once they run out). */
function journal(...answers: (LogLine[] | Error)[]): RecentLines & { asked: { lines: number; options: RecentOptions }[] } {
  const asked: { lines: number; options: RecentOptions }[] = [];
  return {
    asked,
    recent(_ref, lines, options = {}) {
      asked.push({ lines, options });
      const answer = answers[Math.min(asked.length - 1, answers.length - 1)]!;
      return answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer);
    },
  };
}

function view(loaded: boolean): ShownUnits {
  return { declaration: async () => ({ unit: UNIT }), isLoaded: () => loaded };
}

describe('where the last run begins in the journal (lastRun)', () => {
  it('reaches back one second before InactiveExitTimestamp, for lines stamped before systemd recorded the start', () => {
    expect(lastRun({ InactiveExitTimestamp: 10_000_000n })).toEqual({ sinceUsec: 9_000_000n, invocationId: undefined });
  });

  it('never reaches back before the previous run ended (InactiveEnterTimestamp)', () => {
    expect(lastRun({ InactiveExitTimestamp: 10_000_000n, InactiveEnterTimestamp: 9_500_000n }).sinceUsec).toBe(9_500_000n);
  });

  it('keeps the one-second reach when the previous run ended earlier than that', () => {
    expect(lastRun({ InactiveExitTimestamp: 10_000_000n, InactiveEnterTimestamp: 9_000_000n }).sinceUsec).toBe(9_000_000n);
    expect(lastRun({ InactiveExitTimestamp: 10_000_000n, InactiveEnterTimestamp: 8_000_000n }).sinceUsec).toBe(9_000_000n);
  });

  it('ignores an InactiveEnterTimestamp after the start (the unit is stopped again: the last run is the one that began)', () => {
    expect(lastRun({ InactiveExitTimestamp: 10_000_000n, InactiveEnterTimestamp: 12_000_000n }).sinceUsec).toBe(9_000_000n);
  });

  it('takes InactiveEnterTimestamp equal to the start as the bound', () => {
    expect(lastRun({ InactiveExitTimestamp: 10_000_000n, InactiveEnterTimestamp: 10_000_000n }).sinceUsec).toBe(10_000_000n);
  });

  it('has no start when systemd never started the unit (timestamp 0 or absent)', () => {
    expect(lastRun({ InactiveExitTimestamp: 0n, InactiveEnterTimestamp: 5n })).toEqual({ sinceUsec: undefined, invocationId: undefined });
    expect(lastRun({})).toEqual({ sinceUsec: undefined, invocationId: undefined });
    expect(lastRun({ InactiveExitTimestamp: 10 })).toEqual({ sinceUsec: undefined, invocationId: undefined });
  });

  it("names the run by systemd's InvocationID in hex, and only a 16-byte one", () => {
    expect(lastRun({ InvocationID: INVOCATION }).invocationId).toBe(INVOCATION_HEX);
    expect(lastRun({ InvocationID: new Uint8Array(0) }).invocationId).toBeUndefined();
    expect(lastRun({ InvocationID: INVOCATION_HEX }).invocationId).toBeUndefined();
  });
});

describe("the lines of a stream's current run (GetStatus)", () => {
  it('reads the newest lines since the loaded unit last started, of its run only', async () => {
    const logs = journal([line('hello')]);
    const props: UnitProperties = { InactiveExitTimestamp: 10_000_000n, InvocationID: INVOCATION };
    const read: string[] = [];
    const lines = new RunLines(logs, view(true), async (unit) => (read.push(unit), props));
    expect(await lines.ofCurrentRun(REF, 7)).toEqual({ lines: [line('hello')] });
    expect(read).toEqual([UNIT]);
    expect(logs.asked).toEqual([{ lines: 7, options: { sinceUsec: 9_000_000n, invocationId: INVOCATION_HEX, signal: undefined } }]);
  });

  it('does not ask systemd about a unit it has not loaded (that would load it): the newest lines are the answer', async () => {
    const logs = journal([line('old')]);
    const lines = new RunLines(logs, view(false), () => Promise.reject(new Error('must not read')));
    expect(await lines.ofCurrentRun(REF, 3)).toEqual({ lines: [line('old')] });
    expect(logs.asked).toEqual([{ lines: 3, options: { signal: undefined } }]);
  });

  it('asks nothing for no lines', async () => {
    const logs = journal([line('x')]);
    const lines = new RunLines(logs, { declaration: () => Promise.reject(new Error('no')), isLoaded: () => true }, () => Promise.reject(new Error('no')));
    expect(await lines.ofCurrentRun(REF, 0)).toEqual({ lines: [] });
    expect(logs.asked).toEqual([]);
  });

  it('says why when the server reads no journal, or the journal cannot be read', async () => {
    expect(await new RunLines(undefined, view(false), async () => ({})).ofCurrentRun(REF, 1)).toEqual({ lines: [], unavailable: 'this server reads no journal' });
    const broken = new RunLines(journal(new JournalUnavailableError('journalctl is not installed')), view(false), async () => ({}));
    expect(await broken.ofCurrentRun(REF, 1)).toEqual({ lines: [], unavailable: 'journalctl is not installed' });
  });

  it('passes on any other error (a stream not shown is NOT_FOUND, not "no lines")', async () => {
    const notShown = new Error('not declared');
    const lines = new RunLines(journal([]), { declaration: () => Promise.reject(notShown), isLoaded: () => true }, async () => ({}));
    await expect(lines.ofCurrentRun(REF, 1)).rejects.toBe(notShown);
    const other = new Error('boom');
    await expect(new RunLines(journal(other), view(false), async () => ({})).ofCurrentRun(REF, 1)).rejects.toBe(other);
  });
});

describe('the lines of this start (a Start or Restart answer)', () => {
  afterEach(() => vi.useRealTimers());

  it('reads the newest ten since the request came, once when it succeeded', async () => {
    const logs = journal([line('up')]);
    const lines = new RunLines(logs, view(true), async () => ({}));
    expect(await lines.ofThisStart(REF, 42n, false)).toEqual([line('up')]);
    expect(logs.asked).toEqual([{ lines: 10, options: { sinceUsec: 42n, signal: undefined } }]);
  });

  it("after a failure, reads until systemd's line about it (notice or worse) is there, then once more", async () => {
    const why = line('Main process exited, code=exited, status=3/NOTIMPLEMENTED', 'systemd', 5);
    const logs = journal([line('bye')], [line('bye')], [line('bye'), why], [line('bye'), why, line('late')]);
    const lines = new RunLines(logs, view(true), async () => ({}));
    expect(await lines.ofThisStart(REF, 1n, true)).toEqual([line('bye'), why, line('late')]);
    expect(logs.asked).toHaveLength(4);
  });

  it("does not take systemd's info lines for its word on the failure", async () => {
    vi.useFakeTimers();
    const logs = journal([line('Starting…', 'systemd', 6)]);
    const lines = new RunLines(logs, view(true), async () => ({}));
    const answer = lines.ofThisStart(REF, 1n, true);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(await answer).toEqual([line('Starting…', 'systemd', 6)]);
    // One read, then one every 25 ms for 500 ms.
    expect(logs.asked.length).toBeGreaterThanOrEqual(20);
    expect(logs.asked.length).toBeLessThanOrEqual(22);
  });

  it('gives up waiting when the caller goes away', async () => {
    const logs = journal([line('bye')]);
    const caller = new AbortController();
    caller.abort();
    const lines = new RunLines(logs, view(true), async () => ({}));
    expect(await lines.ofThisStart(REF, 1n, true, caller.signal)).toEqual([line('bye')]);
    expect(logs.asked).toHaveLength(1);
  });

  it('leaves the lines out when the journal cannot be read, or the server reads none', async () => {
    expect(await new RunLines(journal(new Error('gone')), view(true), async () => ({})).ofThisStart(REF, 1n, false)).toEqual([]);
    expect(await new RunLines(undefined, view(true), async () => ({})).ofThisStart(REF, 1n, true)).toEqual([]);
  });
});
