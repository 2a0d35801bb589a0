import type { LogLine } from './logLine.js';
import type { StreamRef } from './streamRef.js';

/**
 * What the product reports about a stream. State strings are systemd's own
 * (org.freedesktop.systemd1(5): LoadState, ActiveState, SubState, Result), kept verbatim so they
 * read the same here as in `systemctl status`.
 */
export interface StreamSummary extends StreamRef {
  readonly unit: string;
  /** `loaded`, `not-found`, `bad-setting`, `error`, `masked`; `` when systemd has not loaded it. */
  readonly loadState: string;
  /** `active`, `reloading`, `inactive`, `failed`, `activating`, `deactivating`, `maintenance`. */
  readonly activeState: string;
  readonly subState: string;
  /** systemd's UnitFileState: `enabled`, `disabled`, `static`, …; absent when not known. */
  readonly unitFileState?: string;
  /** The host the stream runs on; absent from a backend that does not say. */
  readonly host?: string;
}

export type UsageSource = 'systemd' | 'procfs' | 'none';

export interface StreamStatus extends StreamSummary {
  readonly started?: Date;
  readonly mainPid?: number;
  readonly tasks?: number;
  readonly memoryBytes?: number;
  readonly usageSource: UsageSource;
  /** `tasks` and `memoryBytes` cover only some of the unit's processes: lower bounds. */
  readonly usagePartial?: boolean;
  /** How old `tasks` and `memoryBytes` are, ms; absent when there are no figures. */
  readonly usageAgeMs?: number;
  readonly restartCount: number;
  readonly result: string;
  readonly exitStatus?: number;
  readonly exitSignal?: number;
}

export type Action = 'start' | 'stop' | 'restart';

export interface ActionResult {
  readonly status: 'SUCCESS' | 'FAILURE';
  readonly message: string;
  /** systemd's job result: done, canceled, timeout, failed, dependency, skipped. */
  readonly jobResult: string;
  readonly stream: StreamSummary;
  /** The stream's log lines of this start or restart, when they were read. */
  readonly logs?: readonly LogLine[];
}

/** A symlink systemd created or removed to enable or disable a stream (its unit-file `changes`). */
export interface UnitFileChange {
  readonly type: 'symlink' | 'unlink';
  /** The symlink, e.g. `/etc/systemd/system/multi-user.target.wants/lit-stream-contoso@bitcoin.service`. */
  readonly path: string;
  /** What a created symlink points to; empty for `unlink`. */
  readonly destination: string;
}

/** What an Enable or Disable did: systemd's changes and, with `now`, what the Start or Stop did. */
export interface EnablementResult {
  readonly status: 'SUCCESS' | 'FAILURE';
  readonly message: string;
  /** Empty when nothing had to change (already enabled, not enabled). */
  readonly changes: readonly UnitFileChange[];
  /** With `now`: the Start's or Stop's job result; empty otherwise. */
  readonly jobResult: string;
  readonly stream: StreamSummary;
  /** With `now`: the Start's log lines. */
  readonly logs?: readonly LogLine[];
}
