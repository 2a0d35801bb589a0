import type { JournalEntry } from './journalEntry.js';
import { MESSAGE_IDS } from './journalMessages.js';

/**
 * A unit's invocations (systemd's word for one run of a unit, from its start job to its end, with
 * an InvocationID of its own: systemd.exec(5), $INVOCATION_ID), read from the structured entries
 * the manager writes about the unit (journalMessages.ts). Every such entry carries the invocation's
 * id (`INVOCATION_ID=`, or `USER_INVOCATION_ID=` from a user manager); a worker's own lines carry
 * it only as `_SYSTEMD_INVOCATION_ID=`, which journald sets under the system manager alone, so
 * their invocation is told by where they are in the journal (invocationOfLine).
 */
export interface Invocation {
  readonly id: string;
  /** The manager's entries about it, oldest first. */
  readonly entries: readonly JournalEntry[];
}

/** What the manager's entries say of one invocation. */
export interface InvocationFacts {
  /** When its start job began ("Starting …"); undefined when that entry is not in the journal. */
  readonly startedUsec?: bigint;
  /** When it ended: its process's exit, its result, or the stop; undefined while it runs or when no entry says. */
  readonly endedUsec?: bigint;
  /** systemd's Result: UNIT_RESULT= of "Failed with result …", else `success` once it ended. */
  readonly result?: string;
  /** EXIT_CODE= (`exited`, `killed`, `dumped`) and EXIT_STATUS= of the process whose end ended it. */
  readonly exitCode?: string;
  readonly exitStatus?: number;
  /** N_RESTARTS= of the automatic restart that began it ("Scheduled restart job …"); 0 otherwise. */
  readonly restarts: number;
}

/**
 * Collects a unit's manager entries read newest first (`journalctl --reverse`) into invocations,
 * newest first. An invocation is complete once its first entry, "Starting …", has been read.
 */
export class InvocationCollector {
  private readonly byId = new Map<string, JournalEntry[]>();
  private readonly started = new Set<string>();

  /** Adds a manager entry about the unit (one without an invocation id is not about a run). */
  add(entry: JournalEntry): void {
    const id = entry.invocationId;
    if (id === undefined || !/^[0-9a-f]{32}$/.test(id)) return;
    let entries = this.byId.get(id);
    if (!entries) this.byId.set(id, (entries = []));
    entries.push(entry);
    if (entry.messageId === MESSAGE_IDS.unitStarting) this.started.add(id);
  }

  /** How many of the invocations read so far are complete, counting from the newest. */
  get complete(): number {
    let n = 0;
    for (const id of this.byId.keys()) {
      if (!this.started.has(id)) break;
      n++;
    }
    return n;
  }

  /** The invocations read, newest first, each with its entries oldest first. */
  invocations(): Invocation[] {
    return [...this.byId].map(([id, entries]) => ({ id, entries: [...entries].reverse() }));
  }
}

/**
 * The facts of `invocation` from the manager's entries; `previous` is the invocation before it
 * (for the restart that began it), `later` says whether another began after it (so it has ended).
 * systemd logs every failed result at warning level (unit_log_failure()), so an invocation that
 * ended without one succeeded; a user manager logs a clean exit only at debug level, so for it
 * the end may be known only from the entries that follow (a restart scheduled, a stop).
 */
export function describeInvocation(invocation: Invocation, previous: Invocation | undefined, later: boolean): InvocationFacts {
  const starting = ofKind(invocation, MESSAGE_IDS.unitStarting)[0];
  const failure = ofKind(invocation, MESSAGE_IDS.unitFailureResult)[0];
  const fatalExit = fatalExitOf(invocation);
  const endedUsec = endOfInvocation(invocation)?.realtimeUsec;
  const restartOf = previous?.entries.filter((entry) => entry.messageId === MESSAGE_IDS.unitRestartScheduled).at(-1);
  return {
    startedUsec: starting?.realtimeUsec,
    endedUsec,
    result: failure?.unitResult ?? (endedUsec !== undefined || later ? 'success' : undefined),
    exitCode: fatalExit?.exitCode,
    exitStatus: fatalExit?.exitCode === undefined ? undefined : fatalExit.exitStatus,
    restarts: restartOf?.restarts ?? 0,
  };
}

function ofKind(invocation: Invocation, messageId: string): JournalEntry[] {
  return invocation.entries.filter((entry) => entry.messageId === messageId);
}

/** The main process's end; without one, the control process (ExecStartPre=, …) whose failure failed the run. */
function fatalExitOf(invocation: Invocation): JournalEntry | undefined {
  const exits = ofKind(invocation, MESSAGE_IDS.unitProcessExit);
  const failure = ofKind(invocation, MESSAGE_IDS.unitFailureResult)[0];
  return exits.filter((entry) => entry.command === 'ExecStart').at(-1) ?? (failure ? exits.filter((entry) => entry.realtimeUsec <= failure.realtimeUsec).at(-1) : undefined);
}

/**
 * The manager's first entry saying the invocation had ended: its process's exit, its result, the
 * stop, a failed start, or the restart scheduled after it; undefined while nothing says so.
 */
export function endOfInvocation(invocation: Invocation): JournalEntry | undefined {
  const ends = new Set<string>([MESSAGE_IDS.unitFailureResult, MESSAGE_IDS.unitSuccess, MESSAGE_IDS.unitStopped, MESSAGE_IDS.unitFailed, MESSAGE_IDS.unitRestartScheduled]);
  const fatal = fatalExitOf(invocation);
  return invocation.entries.find((entry) => entry === fatal || ends.has(entry.messageId ?? ''));
}

/** Where one invocation's lines are in the journal, for isLineOf. */
export interface InvocationWindow {
  readonly id: string;
  /** Processes whose lines an earlier invocation already had: lines of theirs are not this one's. */
  readonly earlierPids: ReadonlySet<number>;
}

/**
 * Whether a line of the unit's processes, read between `window`'s start and the next invocation's,
 * is this invocation's. journald sets `_SYSTEMD_INVOCATION_ID` under the system manager: it
 * decides. Without it (a user manager), the line's place decides, except for a process of an
 * earlier invocation: journald may file the last lines of a process that has just exited after the
 * manager's entries about the next start, so a pid seen before stays with its invocation.
 */
export function isLineOf(entry: JournalEntry, window: InvocationWindow): boolean {
  if (entry.systemdInvocationId !== undefined) return entry.systemdInvocationId === window.id;
  return entry.pid === undefined || !window.earlierPids.has(entry.pid);
}
