import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GrpcStatus, LitStreamError, type ServiceStatus } from '../../clients/typescript/src/index.js';
import { parseCommandLine } from '../../clients/typescript/src/cli/commandLine.js';
import { changeLine } from '../../clients/typescript/src/cli/commands/enable.js';
import { ExitCode, exitCodeForError, firstFailure } from '../../clients/typescript/src/cli/exitCodes.js';
import { inOrder } from '../../clients/typescript/src/cli/inOrder.js';
import { formatLastExit } from '../../clients/typescript/src/cli/lastExit.js';
import { formatLogLine, priorityStyle } from '../../clients/typescript/src/cli/logView.js';
import { main } from '../../clients/typescript/src/cli/main.js';
import { parseSince } from '../../clients/typescript/src/cli/since.js';
import { statusBlock, statusTable } from '../../clients/typescript/src/cli/statusView.js';
import { formatRelative } from '../../clients/typescript/src/cli/timespan.js';
import { UsageError } from '../../clients/typescript/src/cli/usageError.js';

/** lit-streamctl's pure parts: systemctl's wording, the command line, exit codes, answer order. */

describe('how long ago, as systemctl status says it (format_timestamp_relative)', () => {
  const now = new Date('2026-11-25T12:00:00Z');
  const ago = (ms: number) => formatRelative(new Date(now.getTime() - ms), now);
  const s = 1_000;
  const min = 60 * s;
  const h = 60 * min;
  const day = 24 * h;
  it.each([
    [0, 'now'],
    [15, '15ms ago'],
    [999, '999ms ago'],
    [2 * s + 500, '2s ago'],
    [2 * min + 3 * s, '2min 3s ago'],
    [5 * min + 59 * s, '5min ago'],
    [h + 2 * min, '1h 2min ago'],
    [6 * h + 59 * min, '6h ago'],
    [25 * h + 30 * min, '1 day 1h ago'],
    [2 * day + 23 * h, '2 days ago'],
    [7 * day + 1 * day, '1 week 1 day ago'],
    [15 * day, '2 weeks 1 day ago'],
    [2_629_800 * s + 2 * day, '1 month 2 days ago'],
    [31_557_600 * s * 2 + 2_629_800 * s, '2 years 1 month ago'],
  ])('%d ms → %s', (ms, expected) => {
    expect(ago(ms)).toBe(expected);
  });

  it('says "left" for a time ahead of this clock (another host\'s clock)', () => {
    expect(formatRelative(new Date(now.getTime() + 3 * s), now)).toBe('3s left');
  });
});

describe('how the main process last ended, as systemctl status writes it', () => {
  it.each([
    [1, undefined, 'code=exited, status=1/FAILURE'],
    [0, undefined, 'code=exited, status=0/SUCCESS'],
    [203, undefined, 'code=exited, status=203/EXEC'],
    [217, undefined, 'code=exited, status=217/USER'],
    [42, undefined, 'code=exited, status=42'],
    [undefined, 9, 'code=killed, signal=KILL'],
    [undefined, 15, 'code=killed, signal=TERM'],
  ])('status %s, signal %s → %s', (status, signal, expected) => {
    expect(formatLastExit(status, signal)).toBe(expected);
  });

  it('says nothing when the process has not exited', () => {
    expect(formatLastExit(undefined, undefined)).toBeUndefined();
  });
});

function statusOf(overrides: Partial<ServiceStatus['details']> & { name?: string; pid?: number | null; memory?: string | null }): ServiceStatus {
  const details = {
    team: 'contoso',
    unit: `lit-stream-contoso@${overrides.name ?? 'bitcoin'}.service`,
    loadState: 'loaded',
    activeState: 'active',
    subState: 'running',
    usageSource: 'procfs' as const,
    restartCount: 0,
    result: 'success',
    ...overrides,
  };
  return {
    name: overrides.name ?? 'bitcoin',
    active: details.activeState,
    status: details.subState,
    started: details.started ? 'Wed 2026-11-25 11:57:57 UTC' : null,
    pid: overrides.pid ?? null,
    tasks: null,
    memory: overrides.memory ?? null,
    details,
  };
}

describe('status and list layout (on a pipe: no colours)', () => {
  const now = new Date('2026-11-25T12:00:00Z');
  const plain = (_style: unknown, text: string) => text;

  it('lays a running stream out as systemctl status does, labels right-aligned', () => {
    const running = statusOf({ started: new Date('2026-11-25T11:57:57Z'), pid: 4408, memory: '9.9M' });
    expect(statusBlock(running, now, plain)).toEqual([
      '● contoso/bitcoin',
      '     Loaded: loaded (lit-stream-contoso@bitcoin.service)',
      '     Active: active (running) since Wed 2026-11-25 11:57:57 UTC; 2min 3s ago',
      '   Main PID: 4408',
      '     Memory: 9.9M',
      '   Restarts: 0',
    ]);
  });

  it('shows a failed stream with ×, its result and how its process ended', () => {
    const failed = statusOf({ name: 'crash', activeState: 'failed', subState: 'failed', result: 'exit-code', exitStatus: 1, restartCount: 2 });
    expect(statusBlock(failed, now, plain)).toEqual([
      '× contoso/crash',
      '     Loaded: loaded (lit-stream-contoso@crash.service)',
      '     Active: failed (Result: exit-code)',
      '   Restarts: 2',
      '  Last exit: code=exited, status=1/FAILURE',
    ]);
  });

  it('lists streams in columns, a failed one marked ●, unknown values as -', () => {
    const rows = statusTable(
      [
        statusOf({ started: new Date('2026-11-25T11:57:57Z'), pid: 4408, memory: '9.9M', unitFileState: 'enabled' }),
        statusOf({ name: 'crash', activeState: 'failed', subState: 'failed', unitFileState: 'disabled' }),
        statusOf({ name: 'ethereum', loadState: '', activeState: 'inactive', subState: 'dead' }),
      ],
      now,
      plain,
    );
    expect(rows).toEqual([
      '  NAME     LOAD   ENABLED  ACTIVE   SUB     UPTIME   PID MEMORY',
      '  bitcoin  loaded enabled  active   running 2min 3s 4408   9.9M',
      '● crash    loaded disabled failed   failed  -          -      -',
      '  ethereum -      -        inactive dead    -          -      -',
    ]);
  });

  it("says after the unit whether it is enabled, as systemctl's Loaded: line", () => {
    expect(statusBlock(statusOf({ unitFileState: 'enabled' }), now, plain)[1]).toBe('     Loaded: loaded (lit-stream-contoso@bitcoin.service; enabled)');
    expect(statusBlock(statusOf({ unitFileState: 'disabled' }), now, plain)[1]).toBe('     Loaded: loaded (lit-stream-contoso@bitcoin.service; disabled)');
  });

  it("words systemd's changes as systemctl enable and disable print them", () => {
    expect(changeLine({ type: 'symlink', path: '/etc/systemd/system/multi-user.target.wants/u.service', destination: '/etc/systemd/system/u.service' })).toBe(
      'Created symlink /etc/systemd/system/multi-user.target.wants/u.service → /etc/systemd/system/u.service.',
    );
    expect(changeLine({ type: 'unlink', path: '/etc/systemd/system/multi-user.target.wants/u.service', destination: '' })).toBe(
      'Removed "/etc/systemd/system/multi-user.target.wants/u.service".',
    );
  });
});

describe('the command line', () => {
  it('takes options before or after the command', () => {
    expect(parseCommandLine(['--addr', 'h:1', 'status', 'a/b', '-o', 'json'])).toMatchObject({
      command: 'status',
      args: ['a/b'],
      output: 'json',
      connection: { addr: 'h:1' },
    });
  });

  it('takes --now for enable and disable only', () => {
    expect(parseCommandLine(['enable', '--now', 'a/b', 'a/c'])).toMatchObject({ command: 'enable', args: ['a/b', 'a/c'], now: true });
    expect(parseCommandLine(['disable', 'a/b'])).toMatchObject({ command: 'disable', now: false });
    expect(() => parseCommandLine(['start', '--now', 'a/b'])).toThrow("'start' has no option --now");
    expect(() => parseCommandLine(['enable'])).toThrow("'enable' needs at least one argument");
  });

  it.each([
    [['bogus'], "unknown command 'bogus'"],
    [['list'], "'list' needs an argument"],
    [['list', 'a', 'b'], "'list' takes one argument"],
    [['status'], "'status' needs at least one argument"],
    [['status', '-o', 'yaml', 'a/b'], "-o takes 'text' or 'json', not 'yaml'"],
    [['list', '--nope', 'a'], "Unknown option '--nope'"],
  ])('rejects %j: %s', (argv, message) => {
    expect(() => parseCommandLine(argv)).toThrow(message);
  });
});

describe('exit codes, as systemctl answers', () => {
  const error = (code: GrpcStatus) => new LitStreamError(code, 'why');
  it.each([
    [GrpcStatus.NOT_FOUND, 'query', ExitCode.NO_SUCH_STREAM],
    [GrpcStatus.NOT_FOUND, 'action', ExitCode.NOT_INSTALLED],
    [GrpcStatus.UNAVAILABLE, 'query', ExitCode.UNAVAILABLE],
    [GrpcStatus.UNAUTHENTICATED, 'action', ExitCode.NO_PERMISSION],
    [GrpcStatus.PERMISSION_DENIED, 'query', ExitCode.NO_PERMISSION],
    [GrpcStatus.INVALID_ARGUMENT, 'query', ExitCode.USAGE],
    [GrpcStatus.FAILED_PRECONDITION, 'action', ExitCode.FAILURE],
    [GrpcStatus.DEADLINE_EXCEEDED, 'action', ExitCode.FAILURE],
  ] as const)('gRPC %i in a %s → %i', (code, kind, expected) => {
    expect(exitCodeForError(error(code), kind)).toBe(expected);
  });

  it('with several streams, the first that did not succeed, in the order named', () => {
    expect(firstFailure([ExitCode.SUCCESS, ExitCode.NO_SUCH_STREAM, ExitCode.NOT_RUNNING])).toBe(ExitCode.NO_SUCH_STREAM);
    expect(firstFailure([ExitCode.SUCCESS, ExitCode.SUCCESS])).toBe(ExitCode.SUCCESS);
  });
});

describe('answers in order', () => {
  it('emits each result in the tasks\' order though a later one finishes first, and runs them all at once', async () => {
    const started: number[] = [];
    const emitted: string[] = [];
    let releaseFirst!: () => void;
    const first = new Promise<void>((resolve) => (releaseFirst = resolve));
    const done = inOrder(
      [
        async () => {
          started.push(0);
          await first;
          return 'slow';
        },
        async () => {
          started.push(1);
          return 'fast';
        },
      ],
      (result) => emitted.push(result),
    );
    await new Promise((resolve) => setImmediate(resolve));
    expect(started).toEqual([0, 1]);
    expect(emitted).toEqual([]);
    releaseFirst();
    expect(await done).toEqual(['slow', 'fast']);
    expect(emitted).toEqual(['slow', 'fast']);
  });
});

describe('help, version and usage (no server needed)', () => {
  async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    let stdout = '';
    let stderr = '';
    const stream = (append: (text: string) => void) => ({ write: (text: string) => (append(text), true) }) as unknown as NodeJS.WriteStream;
    const code = await main(argv, { stdout: stream((t) => (stdout += t)), stderr: stream((t) => (stderr += t)), env: {} });
    return { code, stdout, stderr };
  }

  it.each(['list', 'status', 'start', 'stop', 'restart', 'logs', 'watch'])('%s --help: usage, exit status where it matters, examples', async (command) => {
    for (const argv of [[command, '--help'], ['help', command], [command, '-h']]) {
      const { code, stdout } = await run(argv);
      expect(code).toBe(0);
      expect(stdout).toMatch(new RegExp(`^Usage: lit-streamctl ${command} \\[OPTIONS\\] `));
      expect(stdout).toContain(`Examples:\n  lit-streamctl ${command} `);
      expect(stdout).toContain('--addr HOST:PORT');
    }
  });

  it('--help lists every command and the exit codes; no command at all is wrong usage', async () => {
    const { code, stdout } = await run(['--help']);
    expect(code).toBe(0);
    for (const command of ['list TEAM', 'status TEAM/NAME...', 'start TEAM/NAME...', 'logs TEAM/NAME', 'watch TEAM']) expect(stdout).toContain(`  ${command} `);
    expect(stdout).toContain('Exit status');
    expect((await run([])).code).toBe(ExitCode.USAGE);
  });

  it('--version: the package it came with', async () => {
    const { version } = JSON.parse(readFileSync('clients/typescript/package.json', 'utf8')) as { version: string };
    expect(await run(['--version'])).toEqual({ code: 0, stdout: `lit-streamctl ${version} (@lit-stream/client)\n`, stderr: '' });
  });

  it.each([
    [['status', 'contoso'], "lit-streamctl: expected TEAM/NAME, got 'contoso'\nTry 'lit-streamctl status --help'.\n"],
    [['watch', 'contoso', '-x'], "lit-streamctl: Unknown option '-x'\nTry 'lit-streamctl --help'.\n"],
    [['help', 'nope'], "lit-streamctl: no command 'nope'\nTry 'lit-streamctl --help'.\n"],
  ])('%j: exit 2, one line and where help is', async (argv, stderr) => {
    expect(await run(argv)).toEqual({ code: ExitCode.USAGE, stdout: '', stderr });
  });
});

describe('--since, as journalctl reads times (systemd.time(7))', () => {
  // A fixed "now" and zone, so that "today" and local times mean one thing.
  const now = new Date('2026-11-25T12:00:00Z');
  it.each([
    ['now', '2026-11-25T12:00:00.000Z'],
    ['-1h', '2026-11-25T11:00:00.000Z'],
    ['1h 30min ago', '2026-11-25T10:30:00.000Z'],
    ['10 min ago', '2026-11-25T11:50:00.000Z'],
    ['+5min', '2026-11-25T12:05:00.000Z'],
    ['@1764000000', '2025-11-24T16:00:00.000Z'],
    ['2026-11-25 13:32 UTC', '2026-11-25T13:32:00.000Z'],
    ['2026-11-25T13:32:23Z', '2026-11-25T13:32:23.000Z'],
  ])('%s → %s', (text, iso) => {
    expect(parseSince(text, now).toISOString()).toBe(iso);
  });

  it('reads dates and times without a zone in the local one, as journalctl does', () => {
    expect(parseSince('2026-11-25 13:32:23', now)).toEqual(new Date(2026, 10, 25, 13, 32, 23));
    expect(parseSince('Wed 2026-11-25 13:32:23', now)).toEqual(new Date(2026, 10, 25, 13, 32, 23));
    expect(parseSince('2026-11-25', now)).toEqual(new Date(2026, 10, 25));
    expect(parseSince('today', now)).toEqual(new Date(now.getFullYear(), now.getMonth(), now.getDate()));
    expect(parseSince('yesterday', now)).toEqual(new Date(now.getFullYear(), now.getMonth(), now.getDate() - 1));
    expect(parseSince('13:32', now)).toEqual(new Date(now.getFullYear(), now.getMonth(), now.getDate(), 13, 32));
  });

  it.each(['bogus', '1x ago', '2026-02-30', '25:00', ''])('rejects %j as wrong usage', (text) => {
    expect(() => parseSince(text, now)).toThrow(UsageError);
  });
});

describe('log lines, as journalctl prints them', () => {
  const time = new Date('2026-11-05T09:03:07Z');
  const plain = (_style: unknown, text: string) => text;
  it("prints time, who wrote it and its pid, the message; systemd's lines as systemd's", () => {
    expect(formatLogLine({ time, priority: 6, pid: 4408, message: 'BTC 97000', source: 'worker' }, 'bitcoin', plain, 'UTC')).toBe(
      'Nov 05 09:03:07 bitcoin[4408]: BTC 97000',
    );
    expect(formatLogLine({ time, priority: 6, pid: 1, message: 'Started lit-stream-contoso@bitcoin.service.', source: 'systemd' }, 'bitcoin', plain, 'America/Chicago')).toBe(
      'Nov 05 03:03:07 systemd[1]: Started lit-stream-contoso@bitcoin.service.',
    );
    expect(formatLogLine({ time, priority: 6, pid: null, message: 'no pid', source: 'worker' }, 'bitcoin', plain, 'UTC')).toBe('Nov 05 09:03:07 bitcoin: no pid');
  });

  it('colours by priority as journalctl: err and worse red, warning yellow, notice bold, debug grey', () => {
    expect([0, 3, 4, 5, 6, 7].map(priorityStyle)).toEqual(['bad', 'bad', 'warn', 'strong', undefined, 'dim']);
  });
});
