import type { Run } from './gen/lit/stream/v1/stream.js';
import { type LogLine, toLogLine } from './logs.js';

/** One run of a stream, as ListRuns reports it: systemd's invocation of its unit. */
export interface StreamRun {
  /** systemd's InvocationID (32 hex digits). */
  readonly invocationId: string;
  /** When systemd began starting it; null when the journal no longer holds that. */
  readonly started: Date | null;
  /** When it ended; null while it runs, or when nothing on record says. */
  readonly ended: Date | null;
  /** systemd's Result: `success`, `exit-code`, `signal`, `timeout`, …; null while it runs. */
  readonly result: string | null;
  /** How its process ended: `exited`, `killed` or `dumped`; null when not known. */
  readonly exitCode: string | null;
  /** The exit status (`exited`) or the signal number (`killed`, `dumped`). */
  readonly exitStatus: number | null;
  /** Which automatic restart it was; 0 for a start by hand. */
  readonly restart: number;
  /** Its newest lines (its worker's, and systemd's about it), oldest first. */
  readonly lastLines: readonly LogLine[];
  /** The host it ran on, when the server names one (a fleet gateway, an agent's `--host-name`). */
  readonly host: string | null;
}

export function toStreamRun(run: Run): StreamRun {
  return {
    invocationId: run.invocationId,
    started: run.started ?? null,
    ended: run.ended ?? null,
    result: run.result || null,
    exitCode: run.exitCode || null,
    exitStatus: run.exitStatus ?? null,
    restart: run.restart,
    lastLines: run.lastLines.map(toLogLine),
    host: run.host || null,
  };
}
