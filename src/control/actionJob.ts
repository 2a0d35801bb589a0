import type { JobOutcome } from '../core/actionResult.js';
import type { Action, StreamSummary } from '../core/status.js';
import type { StreamRef } from '../core/streamRef.js';
import type { ServiceState } from '../systemd/serviceState.js';
import type { ActionTurn } from './laterActions.js';
import { restartBaseline } from './settleWindow.js';
import type { EnqueueMethod, JobSession, SystemdPort } from './systemdPort.js';
import type { JobSlot } from './unitQueue.js';

const ENQUEUE: Record<Action, EnqueueMethod> = {
  start: 'StartUnit',
  stop: 'StopUnit',
  restart: 'RestartUnit',
};

/** What the controller reads of a unit in the live view (StreamView) around its job. */
export interface UnitStates {
  /** What the view knows of the unit right now, without asking systemd. */
  knownState(unit: string): ServiceState | undefined;
  /** The unit's state as the view holds it, read whole from systemd if it never was. */
  unitState(unit: string): Promise<ServiceState>;
}

/** What an action's job left: systemd's outcome, the session it ran on, the restart count a start counts from. */
export interface JobDone {
  readonly outcome: JobOutcome;
  readonly session: JobSession;
  /** NRestarts before the job, when asked for (see restartBaseline). */
  readonly restartsBefore?: number;
}

/**
 * Sends one action's job to systemd in its turn on the unit and tells what it left. The job is
 * sent on the session current at that moment (a job belongs to the session it was started on), in
 * mode `replace`, as `systemctl` does: the queue lets a Stop through while a start or restart job
 * runs, and the stop job replaces it; otherwise the queue leaves no job of ours to replace.
 * With `baseline`, first reads the restart count the start will count from.
 */
export async function runActionJob(
  systemd: SystemdPort,
  view: UnitStates,
  job: { readonly action: Action; readonly ref: StreamRef; readonly unit: string; readonly baseline: boolean; readonly turn: ActionTurn },
  slot: JobSlot,
): Promise<JobDone> {
  const { action, ref, unit, turn } = job;
  const session = systemd.session();
  const restartsBefore = job.baseline && action !== 'stop' ? await restartBaseline(action, unit, view.knownState(unit), session) : undefined;
  const finished = await slot.job(() => {
    turn.sending();
    return session.enqueue(ENQUEUE[action], unit, 'replace');
  }, session.jobs);
  // No extra round trip: systemd flushes a unit's PropertiesChanged before the JobRemoved of
  // its job (manager_dispatch_dbus_queue() sends the unit queue, then the job queue), and one
  // connection delivers them in order, so the view already holds the state the job left.
  // That is also what makes every later read see it (read-your-writes).
  // A plain success needs nothing more than that. For a failure, or a unit loaded just now whose
  // values the view has not all seen, read the unit whole: the message names systemd's reasons.
  const known = view.knownState(unit);
  const plainSuccess = known && finished.result === 'done' && known.ActiveState !== '' && known.ActiveState !== 'failed';
  const state = plainSuccess ? withLoadState(known) : await view.unitState(unit);
  const outcome: JobOutcome = {
    jobResult: finished.result,
    stream: summaryOf(ref, unit, state),
    unitResult: state.Result,
    exitStatus: state.exitStatus,
    exitSignal: state.exitSignal,
  };
  return { outcome, session, restartsBefore };
}

/** The stream as an action's answer reports it, from its unit's state. */
export function summaryOf(ref: StreamRef, unit: string, state: ServiceState): StreamSummary {
  return { team: ref.team, name: ref.name, unit, loadState: state.LoadState, activeState: state.ActiveState, subState: state.SubState };
}

/**
 * systemd announces a unit's ActiveState as it loads and starts it, but not always its LoadState:
 * a unit that is running, or was just stopped by a job, was loaded, so say so rather than "unknown".
 */
function withLoadState(state: ServiceState): ServiceState {
  return state.LoadState === '' ? { ...state, LoadState: 'loaded' } : state;
}
