import { constants } from 'node:os';

/**
 * How the main process last ended, as `systemctl status` writes it after `Main PID:`:
 * `code=exited, status=1/FAILURE`, `code=exited, status=203/EXEC`, `code=killed, signal=KILL`.
 * Status names are systemd's for services (src/shared/exit-status.{h,c}: the libc pair and
 * systemd's own 200–242; the LSB and BSD names it shows only for other kinds of units).
 */
export function formatLastExit(exitStatus: number | undefined, exitSignal: number | undefined): string | undefined {
  if (exitSignal !== undefined) return `code=killed, signal=${SIGNAL_NAMES.get(exitSignal) ?? exitSignal}`;
  if (exitStatus === undefined) return undefined;
  const name = EXIT_STATUS_NAMES[exitStatus];
  return `code=exited, status=${exitStatus}${name ? `/${name}` : ''}`;
}

const SIGNAL_NAMES = new Map(Object.entries(constants.signals).map(([name, number]) => [number, name.replace(/^SIG/, '')]));

const SYSTEMD_EXIT_NAMES = [
  'CHDIR', 'NICE', 'FDS', 'EXEC', 'MEMORY', 'LIMITS', 'OOM_ADJUST', 'SIGNAL_MASK', 'STDIN', 'STDOUT', // 200–209
  'CHROOT', 'IOPRIO', 'TIMERSLACK', 'SECUREBITS', 'SETSCHEDULER', 'CPUAFFINITY', 'GROUP', 'USER', 'CAPABILITIES', 'CGROUP', // 210–219
  'SETSID', 'CONFIRM', 'STDERR', undefined, 'PAM', 'NETWORK', 'NAMESPACE', 'NO_NEW_PRIVILEGES', 'SECCOMP', 'SELINUX_CONTEXT', // 220–229
  'PERSONALITY', 'APPARMOR', 'ADDRESS_FAMILIES', 'RUNTIME_DIRECTORY', undefined, 'CHOWN', 'SMACK_PROCESS_LABEL', 'KEYRING', 'STATE_DIRECTORY', 'CACHE_DIRECTORY', // 230–239
  'LOGS_DIRECTORY', 'CONFIGURATION_DIRECTORY', 'NUMA_POLICY', // 240–242
] as const;

const EXIT_STATUS_NAMES: Record<number, string | undefined> = {
  0: 'SUCCESS',
  1: 'FAILURE',
  ...Object.fromEntries(SYSTEMD_EXIT_NAMES.map((name, index) => [200 + index, name])),
};
