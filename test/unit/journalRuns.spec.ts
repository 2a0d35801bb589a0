import { describe, expect, it } from 'vitest';
import { type JournalEntry, parseJournalJson } from '../../src/systemd/journalEntry.js';
import { MESSAGE_IDS } from '../../src/systemd/journalMessages.js';
import { describeInvocation, InvocationCollector, isLineOf } from '../../src/systemd/journalRuns.js';

/** Entries as a user manager writes them about a unit (fields as systemd 252 sets them). */
let seqnum = 0;
function entry(usec: number, fields: Record<string, string>): JournalEntry {
  seqnum++;
  return parseJournalJson(JSON.stringify({ __CURSOR: `s=a;i=${seqnum.toString(16)}`, __REALTIME_TIMESTAMP: String(usec), ...fields }))!;
}
const manager = (id: string, usec: number, messageId: string, fields: Record<string, string> = {}) =>
  entry(usec, { USER_INVOCATION_ID: id, MESSAGE_ID: messageId, USER_UNIT: 'u.service', _SYSTEMD_USER_UNIT: 'init.scope', ...fields });

const A = 'a'.repeat(32);
const B = 'b'.repeat(32);
const C = 'c'.repeat(32);

/** Three runs: A exits 3 and is restarted as B, killed by SIGKILL and restarted as C, which runs. */
const journal = [
  manager(A, 100, MESSAGE_IDS.unitStarting),
  manager(A, 110, MESSAGE_IDS.unitStarted),
  manager(A, 200, MESSAGE_IDS.unitProcessExit, { EXIT_CODE: 'exited', EXIT_STATUS: '3', COMMAND: 'ExecStart' }),
  manager(A, 201, MESSAGE_IDS.unitFailureResult, { UNIT_RESULT: 'exit-code' }),
  manager(A, 300, MESSAGE_IDS.unitRestartScheduled, { N_RESTARTS: '1' }),
  manager(A, 301, MESSAGE_IDS.unitStopped),
  manager(B, 302, MESSAGE_IDS.unitStarting),
  manager(B, 303, MESSAGE_IDS.unitStarted),
  manager(B, 400, MESSAGE_IDS.unitProcessExit, { EXIT_CODE: 'killed', EXIT_STATUS: '9', COMMAND: 'ExecStart' }),
  manager(B, 401, MESSAGE_IDS.unitFailureResult, { UNIT_RESULT: 'signal' }),
  manager(B, 500, MESSAGE_IDS.unitRestartScheduled, { N_RESTARTS: '2' }),
  manager(B, 501, MESSAGE_IDS.unitStopped),
  manager(C, 502, MESSAGE_IDS.unitStarting),
  manager(C, 503, MESSAGE_IDS.unitStarted),
];

function collect(entries: readonly JournalEntry[], stopAfter = Infinity) {
  const collector = new InvocationCollector();
  for (const e of [...entries].reverse()) {
    collector.add(e);
    if (collector.complete > stopAfter) break;
  }
  return collector.invocations();
}

describe("a unit's runs from its manager's journal entries", () => {
  it('groups the entries by invocation, newest first, each oldest first', () => {
    const runs = collect(journal);
    expect(runs.map((run) => run.id)).toEqual([C, B, A]);
    expect(runs[2]!.entries.map((e) => e.realtimeUsec)).toEqual([100n, 110n, 200n, 201n, 300n, 301n]);
  });

  it('can stop once enough runs are complete, with the one before the oldest read for its restart count', () => {
    expect(collect(journal, 1).map((run) => run.id)).toEqual([C, B]);
  });

  it('says how each ended from the structured fields, and which restart began it', () => {
    const [c, b, a] = collect(journal);
    expect(describeInvocation(a!, undefined, true)).toEqual({ startedUsec: 100n, endedUsec: 200n, result: 'exit-code', exitCode: 'exited', exitStatus: 3, restarts: 0 });
    expect(describeInvocation(b!, a, true)).toEqual({ startedUsec: 302n, endedUsec: 400n, result: 'signal', exitCode: 'killed', exitStatus: 9, restarts: 1 });
    expect(describeInvocation(c!, b, false)).toEqual({ startedUsec: 502n, endedUsec: undefined, result: undefined, exitCode: undefined, exitStatus: undefined, restarts: 2 });
  });

  it('takes a failed control process for how a run ended, and a stop by request as success', () => {
    const pre = collect([
      manager(A, 10, MESSAGE_IDS.unitStarting),
      manager(A, 20, MESSAGE_IDS.unitProcessExit, { EXIT_CODE: 'exited', EXIT_STATUS: '7', COMMAND: 'ExecStartPre' }),
      manager(A, 21, MESSAGE_IDS.unitFailureResult, { UNIT_RESULT: 'exit-code' }),
      manager(A, 22, MESSAGE_IDS.unitFailed),
    ])[0]!;
    expect(describeInvocation(pre, undefined, false)).toMatchObject({ endedUsec: 20n, result: 'exit-code', exitCode: 'exited', exitStatus: 7 });
    const stopped = collect([
      manager(B, 10, MESSAGE_IDS.unitStarting),
      manager(B, 11, MESSAGE_IDS.unitStarted),
      manager(B, 50, MESSAGE_IDS.unitStopping),
      manager(B, 60, MESSAGE_IDS.unitStopped),
    ])[0]!;
    expect(describeInvocation(stopped, undefined, false)).toMatchObject({ endedUsec: 60n, result: 'success', exitCode: undefined });
  });

  it("keeps a line of an earlier run's process with that run, and trusts _SYSTEMD_INVOCATION_ID where journald sets it", () => {
    const late = entry(600, { _PID: '41', MESSAGE: 'shutting down cleanly' });
    expect(isLineOf(late, { id: C, earlierPids: new Set([41]) })).toBe(false);
    expect(isLineOf(late, { id: C, earlierPids: new Set([42]) })).toBe(true);
    const tagged = entry(601, { _PID: '41', _SYSTEMD_INVOCATION_ID: C, MESSAGE: 'x' });
    expect(isLineOf(tagged, { id: C, earlierPids: new Set([41]) })).toBe(true);
    expect(isLineOf(tagged, { id: B, earlierPids: new Set() })).toBe(false);
  });
});
