import { GrpcStatus, type LitStreamError } from '../index.js';

/**
 * Exit codes a script can rely on. The first five are systemctl's (systemctl(1) "Exit status",
 * which follows the LSB init-script codes): `status` answers 0 running, 3 not running, 4 no such
 * unit; `start`/`stop`/`restart` answer 1 when the action failed and 5 when there is no such unit.
 * systemctl has no remote server to miss, so those two come from BSD's sysexits.h.
 */
export const ExitCode = {
  SUCCESS: 0,
  /** An action failed (systemd's job did not end `done`), or another error. */
  FAILURE: 1,
  /** The command line is wrong, or the server rejected a team or name as malformed. */
  USAGE: 2,
  /** `status`: the stream is not running (LSB "program is not running"). */
  NOT_RUNNING: 3,
  /** `status`, `logs`: no such stream (LSB status "unknown"). */
  NO_SUCH_STREAM: 4,
  /** `start`, `stop`, `restart`: no such stream (LSB "program is not installed"). */
  NOT_INSTALLED: 5,
  /** EX_UNAVAILABLE: lit-streamd cannot be reached, or cannot reach systemd. */
  UNAVAILABLE: 69,
  /** EX_NOPERM: not authenticated, or not allowed to do this. */
  NO_PERMISSION: 77,
} as const;

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** Which commands answer NOT_FOUND with 4 (a query) and which with 5 (an action), as systemctl does. */
export type CommandKind = 'query' | 'action';

/**
 * The exit code for a failed call. `connected`: whether the connection to lit-streamd was ever up;
 * a deadline that passes while it never was means the server did not answer at all (a stopped
 * process, a proxy or firewall that swallows the connection), which is "cannot be reached".
 */
export function exitCodeForError(error: LitStreamError, kind: CommandKind, connected = true): ExitCode {
  switch (error.code) {
    case GrpcStatus.DEADLINE_EXCEEDED:
      return connected ? ExitCode.FAILURE : ExitCode.UNAVAILABLE;
    case GrpcStatus.NOT_FOUND:
      return kind === 'query' ? ExitCode.NO_SUCH_STREAM : ExitCode.NOT_INSTALLED;
    case GrpcStatus.INVALID_ARGUMENT:
      return ExitCode.USAGE;
    case GrpcStatus.UNAVAILABLE:
      return ExitCode.UNAVAILABLE;
    case GrpcStatus.UNAUTHENTICATED:
    case GrpcStatus.PERMISSION_DENIED:
      return ExitCode.NO_PERMISSION;
    default:
      return ExitCode.FAILURE;
  }
}

/** Several streams: the first code that is not success, in the order the streams were named (as systemctl does). */
export function firstFailure(codes: readonly ExitCode[]): ExitCode {
  return codes.find((code) => code !== ExitCode.SUCCESS) ?? ExitCode.SUCCESS;
}
