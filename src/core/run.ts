import type { LogLine } from './logLine.js';

/** One run of a stream: systemd's invocation of its unit, from its start to its end. */
export interface StreamRun {
  /** systemd's InvocationID of the run (32 hex digits). */
  readonly invocationId: string;
  /** When systemd began starting it, µs since the epoch; undefined when the journal no longer has it. */
  readonly startedUsec?: bigint;
  /** When it ended; undefined while it runs, or when nothing on record says. */
  readonly endedUsec?: bigint;
  /** systemd's Result for the run (`success`, `exit-code`, `signal`, `timeout`, …); undefined while it runs. */
  readonly result?: string;
  /** How the process whose end ended the run exited: `exited`, `killed` or `dumped`. */
  readonly exitCode?: string;
  /** Its exit status (`exited`) or signal number (`killed`, `dumped`). */
  readonly exitStatus?: number;
  /** Which automatic restart it was (systemd's restart counter when it began); 0 for a start by hand. */
  readonly restart: number;
  /** The run's newest lines of its worker (up to RUN_LAST_LINES), with systemd's about it among them, oldest first. */
  readonly lastLines: readonly LogLine[];
  /** The host it ran on; absent from a backend that serves one host. */
  readonly host?: string;
}

/** Runs ListRuns answers when asked for none in particular, and at most. */
export const DEFAULT_RUNS = 10;
export const MAX_RUNS = 100;

/** The worker's lines each run carries. */
export const RUN_LAST_LINES = 10;
