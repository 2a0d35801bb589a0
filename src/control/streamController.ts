import { basename } from 'node:path';
import { type JobOutcome, judgeAction } from '../core/actionResult.js';
import { StreamMaskedError, StreamNotDeclaredError } from '../core/errors.js';
import { byName, type Page, paginate } from '../core/paging.js';
import type { Action, ActionResult, StreamStatus, StreamSummary, UsageSource } from '../core/status.js';
import { parseTeam, type StreamRef } from '../core/streamRef.js';
import type { UnitNaming } from '../core/unitNaming.js';
import type { WaitOptions } from '../systemd/jobs.js';
import type { SystemdManager } from '../systemd/manager.js';
import { readProcessUsage } from '../systemd/procfs.js';
import { readServiceState, type ServiceState } from '../systemd/serviceState.js';
import type { SystemdSession } from '../systemd/systemdSession.js';
import { judgeDeclaration } from './declarations.js';

/** Where the controller gets a live systemd session for each request (see SystemdLink). */
export interface SessionSource {
  session(): SystemdSession;
}

export interface ListOptions {
  readonly pageSize: number;
  readonly pageToken: string;
}

const ENQUEUE: Record<Action, 'StartUnit' | 'StopUnit' | 'RestartUnit'> = {
  start: 'StartUnit',
  stop: 'StopUnit',
  restart: 'RestartUnit',
};

/**
 * The product's operations on streams, in the product's words, carried out through the systemd
 * adapter. Every unit name it hands systemd comes from UnitNaming applied to a validated StreamRef
 * or team, and every action first proves the stream is declared.
 */
export class StreamController {
  constructor(
    private readonly systemd: SessionSource,
    readonly naming: UnitNaming,
  ) {}

  /**
   * The team's declared streams with their state. Unit files and loaded units are asked for at the
   * same time, so the listing costs one round trip to systemd however many streams there are.
   */
  async list(teamInput: string, { pageSize, pageToken }: ListOptions): Promise<Page<StreamSummary>> {
    const team = parseTeam(teamInput);
    const { manager } = this.systemd.session();
    const pattern = this.naming.teamPattern(team);
    const template = this.naming.templateOf(team);
    const [files, loaded] = await Promise.all([
      manager.ListUnitFilesByPatterns([], [pattern]),
      manager.ListUnitsByPatterns([], [pattern]),
    ]);
    const loadedByName = new Map(loaded.map((unit) => [unit.name, unit]));
    const streams: StreamSummary[] = [];
    for (const file of files) {
      const unit = basename(file.path);
      const name = this.naming.streamNameOf(team, unit);
      if (name === undefined) continue; // the template itself, or a name we would never accept
      const declaration = await judgeDeclaration(file, template);
      if (!declaration.declared) continue;
      const live = loadedByName.get(unit);
      streams.push({
        team,
        name,
        unit,
        // A unit systemd has not loaded is not running: it has no state beyond that.
        loadState: declaration.masked ? 'masked' : (live?.loadState ?? ''),
        activeState: live?.activeState ?? 'inactive',
        subState: live?.subState ?? 'dead',
      });
    }
    streams.sort(byName);
    return paginate(team, streams, pageSize, pageToken);
  }

  start(ref: StreamRef, wait: WaitOptions = {}): Promise<ActionResult> {
    return this.act('start', ref, wait);
  }

  /** Stopping a stopped stream succeeds: systemd finishes the stop job `done` at once. */
  stop(ref: StreamRef, wait: WaitOptions = {}): Promise<ActionResult> {
    return this.act('stop', ref, wait);
  }

  restart(ref: StreamRef, wait: WaitOptions = {}): Promise<ActionResult> {
    return this.act('restart', ref, wait);
  }

  async status(ref: StreamRef): Promise<StreamStatus> {
    const { manager } = this.systemd.session();
    const unit = await this.declaredUnit(manager, ref, 'status');
    const state = readServiceState(await manager.getUnitProperties(unit));
    const usage = await this.usage(manager, unit, state);
    const running = ['active', 'reloading', 'deactivating'].includes(state.ActiveState);
    return {
      ...summarize(ref, unit, state),
      started: running ? state.ActiveEnterTimestamp : undefined,
      mainPid: state.MainPID,
      ...usage,
      restartCount: state.NRestarts,
      result: state.Result,
      exitStatus: state.exitStatus,
      exitSignal: state.exitSignal,
    };
  }

  private async act(action: Action, ref: StreamRef, wait: WaitOptions): Promise<ActionResult> {
    const session = this.systemd.session();
    const { manager } = session;
    const unit = await this.declaredUnit(manager, ref, action);
    const method = ENQUEUE[action];
    // `replace`: a newer request replaces a conflicting queued one, as `systemctl` does.
    const job = await session.jobs.run(() => manager[method](unit, 'replace'), wait);
    const state = readServiceState(await manager.getUnitProperties(unit));
    const outcome: JobOutcome = {
      jobResult: job.result,
      stream: summarize(ref, unit, state),
      unitResult: state.Result,
      exitStatus: state.exitStatus,
      exitSignal: state.exitSignal,
    };
    return judgeAction(action, outcome);
  }

  /** The stream's unit name, once its unit file is proven to declare it (and, to act, unmasked). */
  private async declaredUnit(manager: SystemdManager, ref: StreamRef, purpose: Action | 'status'): Promise<string> {
    const unit = this.naming.unitOf(ref);
    // The pattern is the exact unit name: validation leaves no glob characters in it.
    const files = await manager.ListUnitFilesByPatterns([], [unit]);
    const file = files.find((candidate) => basename(candidate.path) === unit);
    const subject = `stream '${ref.name}' of team '${ref.team}'`;
    if (!file) {
      throw new StreamNotDeclaredError(`${subject} is not declared: there is no unit file ${unit} in systemd's unit search path`);
    }
    const declaration = await judgeDeclaration(file, this.naming.templateOf(ref.team));
    if (!declaration.declared) throw new StreamNotDeclaredError(`${subject} is not declared: ${declaration.why}`);
    if (declaration.masked && (purpose === 'start' || purpose === 'restart')) {
      throw new StreamMaskedError(`${subject} is masked (${file.path}); unmask ${unit} before you ${purpose} it`);
    }
    return unit;
  }

  /**
   * Tasks and memory from systemd's accounting when it has them; otherwise (accounting off, reported
   * as UINT64_MAX) summed from the unit's processes in /proc.
   */
  private async usage(
    manager: SystemdManager,
    unit: string,
    state: ServiceState,
  ): Promise<{ tasks?: number; memoryBytes?: number; usageSource: UsageSource }> {
    if (state.TasksCurrent !== undefined && state.MemoryCurrent !== undefined) {
      return { tasks: state.TasksCurrent, memoryBytes: state.MemoryCurrent, usageSource: 'systemd' };
    }
    if (state.ActiveState === 'inactive' || state.ActiveState === 'failed') return { usageSource: 'none' };
    const processes = await manager.GetUnitProcesses(unit);
    if (processes.length === 0) return { usageSource: 'none' };
    const usage = await readProcessUsage(processes.map((process) => process.pid));
    return { ...usage, usageSource: 'procfs' };
  }
}

function summarize(ref: StreamRef, unit: string, state: ServiceState): StreamSummary {
  return {
    team: ref.team,
    name: ref.name,
    unit,
    loadState: state.LoadState,
    activeState: state.ActiveState,
    subState: state.SubState,
  };
}
