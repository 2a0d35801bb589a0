import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { Failure, type FailureCode } from '../core/errors.js';
import { type JournalEntry, OUTPUT_FIELDS } from './journalEntry.js';
import { journalEntries } from './journalJson.js';
import { MESSAGE_IDS } from './journalMessages.js';

const JOURNALCTL = 'journalctl';

/** The journals journald keeps when none is named (systemd-journald.service(8), "FILES"). */
const SYSTEM_JOURNAL_DIRS = ['/run/log/journal', '/var/log/journal'];

/** journald's own unit: its notices about other units' lines come from it. */
const JOURNALD_UNIT = 'systemd-journald.service';

/** Where a manager's units log, and how journalctl tells its units' entries apart. */
export interface JournalSource {
  /**
   * A directory of journal files (`journalctl --directory=`), e.g. the embedded systemd's; when
   * absent, the system journal.
   */
  readonly directory?: string;
  /**
   * Whose units: the system manager's (`_SYSTEMD_UNIT=`, and the manager's own lines `UNIT=` with
   * `_PID=1`) or a user manager's (`_SYSTEMD_USER_UNIT=`, and the manager's lines `USER_UNIT=` from
   * its `init.scope`, both of the manager's uid).
   */
  readonly manager: 'system' | 'user';
  /** The user manager's uid (`_UID=`); default this process's, as `journalctl --user-unit` assumes. */
  readonly uid?: number;
}

/** What to read of one unit's entries. */
export interface JournalQuery {
  /** The newest this many entries (`--lines=`); with `afterCursor`, the first this many after it. */
  readonly lines?: number;
  /** Only entries after this cursor (`--after-cursor=`), oldest first. */
  readonly afterCursor?: string;
  /** Newest first (`--reverse`): with `afterCursor`, the entries before it. */
  readonly reverse?: boolean;
  /**
   * Which of the unit's entries: the unit's own and its manager's about it (default), or only its
   * manager's (to read the unit's runs without its processes' lines).
   */
  readonly only?: 'manager';
}

/** The journal cannot be read: no journal there, or not readable by this process. */
export class JournalUnavailableError extends Failure {
  override readonly name = 'JournalUnavailableError';
  /** Fixed by whoever runs the server (the message says how), not by retrying. */
  readonly code: FailureCode = 'FAILED_PRECONDITION';
}

/**
 * journalctl could not be started for want of a resource of this process or host (EAGAIN: no
 * process slot; EMFILE/ENFILE: no file descriptor; ENOMEM): the server goes on, the read is
 * refused; retrying later may work.
 */
export class JournalctlSpawnError extends Failure {
  override readonly name = 'JournalctlSpawnError';
  readonly code: FailureCode = 'UNAVAILABLE';
}

/** journalctl refused the query itself (a cursor it could not seek to). */
export class JournalQueryError extends Error {
  override readonly name = 'JournalQueryError';
}

/**
 * Unit names reach journalctl only as match values (`FIELD=value`), and only names without any
 * glob character or space: they are compared as they are, and a name checked here cannot be
 * mistaken for an option. Callers hand over names made by UnitNaming from a validated StreamRef;
 * this is the last check before a process is spawned.
 */
const UNIT_NAME = /^[A-Za-z0-9:_.@][A-Za-z0-9:_.@-]*\.service$/;

/**
 * The journal matches for a unit's entries, by fields journald sets itself from the sender's
 * credentials (systemd.journal-fields(7), "Trusted journal fields") wherever the sender could
 * otherwise claim to be someone else. journalctl's own `--unit=`/`--user-unit=` also match
 * `USER_UNIT=`, `OBJECT_SYSTEMD_UNIT=` and more for any sender of the manager's uid, fields any
 * process may put in its entries: those entries then count against `--lines=` and crowd out the
 * unit's. These matches select exactly what entryOrigin() accepts, so `--lines=N` is N accepted
 * entries. Terms are journalctl(1)'s match syntax: fields ANDed, `+` between alternatives.
 */
export function journalMatches(source: JournalSource, unit: string, only?: 'manager'): string[] {
  if (!UNIT_NAME.test(unit)) throw new Error(`refusing to read the journal of ${JSON.stringify(unit)}: not a plain service name`);
  const uid = `_UID=${uidOf(source)}`;
  const groups =
    source.manager === 'user'
      ? [
          [`USER_UNIT=${unit}`, '_SYSTEMD_USER_UNIT=init.scope', uid],
          [`_SYSTEMD_USER_UNIT=${unit}`, uid],
          [`COREDUMP_USER_UNIT=${unit}`, `MESSAGE_ID=${MESSAGE_IDS.coredump}`, '_UID=0'],
          [`OBJECT_SYSTEMD_USER_UNIT=${unit}`, `MESSAGE_ID=${MESSAGE_IDS.journalDropped}`, `_SYSTEMD_UNIT=${JOURNALD_UNIT}`],
        ]
      : [
          [`UNIT=${unit}`, '_PID=1'],
          [`_SYSTEMD_UNIT=${unit}`],
          [`COREDUMP_UNIT=${unit}`, `MESSAGE_ID=${MESSAGE_IDS.coredump}`, '_UID=0'],
          [`OBJECT_SYSTEMD_UNIT=${unit}`, `MESSAGE_ID=${MESSAGE_IDS.journalDropped}`, `_SYSTEMD_UNIT=${JOURNALD_UNIT}`],
        ];
  return (only === 'manager' ? groups.slice(0, 1) : groups).flatMap((group, index) => (index === 0 ? group : ['+', ...group]));
}

/** Who wrote an entry about a unit: its processes, its manager, or the journal (a gap). */
export type EntryOrigin = 'unit' | 'manager' | 'journal';

/**
 * Who wrote an entry that journalctl matched for a unit (journalMatches), checked again on the
 * entry itself: the unit's own processes, its manager (or systemd-coredump, about the unit's
 * process that dumped core), or journald (a notice of the unit's lines it dropped). Undefined for
 * anything else, so no other worker can speak for systemd or for the unit.
 */
export function entryOrigin(entry: JournalEntry, source: JournalSource, unit: string): EntryOrigin | undefined {
  const coredump = entry.messageId === MESSAGE_IDS.coredump && entry.uid === 0;
  const dropped = entry.messageId === MESSAGE_IDS.journalDropped && entry.systemdUnit === JOURNALD_UNIT;
  if (source.manager === 'user') {
    const uid = uidOf(source);
    if (entry.systemdUserUnit === unit && entry.uid === uid) return 'unit';
    if (entry.aboutUserUnit === unit && entry.systemdUserUnit === 'init.scope' && entry.uid === uid) return 'manager';
    if (coredump && entry.coredumpUserUnit === unit) return 'manager';
    if (dropped && entry.objectUserUnit === unit) return 'journal';
  } else {
    if (entry.systemdUnit === unit) return 'unit';
    if (entry.aboutUnit === unit && entry.pid === 1) return 'manager';
    if (coredump && entry.coredumpUnit === unit) return 'manager';
    if (dropped && entry.objectUnit === unit) return 'journal';
  }
  return undefined;
}

function uidOf(source: JournalSource): number {
  return source.uid ?? process.getuid?.() ?? 0;
}

export function journalctlArgs(source: JournalSource, unit: string, query: JournalQuery & { follow?: boolean }): string[] {
  const args = ['--no-pager', '--output=json', '--all', `--output-fields=${OUTPUT_FIELDS.join(',')}`];
  if (source.directory !== undefined) args.push(`--directory=${source.directory}`);
  if (query.afterCursor !== undefined) args.push(`--after-cursor=${query.afterCursor}`);
  if (query.reverse) args.push('--reverse');
  // --follow alone shows the last 10 first; say how many, always.
  args.push(`--lines=${query.lines === undefined ? 'all' : String(query.lines)}`);
  if (query.follow) args.push('--follow');
  // The matches last, after `--`: nothing in them is ever read as an option.
  args.push('--', ...journalMatches(source, unit, query.only));
  return args;
}

/**
 * Reads a unit's entries once (journalctl without --follow), yielding them as journalctl prints
 * them; the pipe is read only as fast as the caller iterates, so a slow consumer holds journalctl
 * back rather than filling memory. Leaving the loop early (or `signal` aborting) ends journalctl.
 */
export async function* readJournal(
  source: JournalSource,
  unit: string,
  query: JournalQuery,
  signal?: AbortSignal,
): AsyncGenerator<JournalEntry> {
  checkJournalPresent(source);
  // An abort before the listener below is added would never reach it.
  signal?.throwIfAborted();
  const journalctl = await Journalctl.start(journalctlArgs(source, unit, query));
  // stop() settles once journalctl has exited; the read's own end waits for that.
  const abort = () => void journalctl.stop();
  signal?.addEventListener('abort', abort, { once: true });
  let completed = false;
  try {
    yield* journalEntries(journalctl.stdout);
    const code = await journalctl.exited;
    signal?.throwIfAborted();
    const problem = readProblem(source, await journalctl.stderr, code);
    if (problem) throw problem;
    completed = true;
  } finally {
    signal?.removeEventListener('abort', abort);
    if (!completed) await journalctl.stop();
  }
}

/**
 * One running journalctl: started only once the kernel has given it a pid (the 'spawn' event),
 * so that nothing ever reads from, or signals, a process that does not exist. (Node hands back a
 * child without a pid when fork fails; its kill() would then signal pid 0, the server's own
 * process group.)
 */
class Journalctl {
  /** Resolves with journalctl's exit code (1 when it was ended by a signal). */
  readonly exited: Promise<number>;
  /** The first few KiB of journalctl's stderr (its error messages are a line or two). */
  readonly stderr: Promise<string>;

  private constructor(private readonly child: ChildProcess & { readonly pid: number }) {
    this.exited = new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode ?? 1);
      // 'exit', not 'close': after an early kill nobody drains stdout, so it may never close.
      child.once('exit', (code) => resolve(code ?? 1));
    });
    this.stderr = collect(child.stderr!);
  }

  static start(args: string[]): Promise<Journalctl> {
    return new Promise((resolve, reject) => {
      let child: ChildProcess;
      try {
        // LC_ALL=C.UTF-8: journalctl's messages in one language (readProblem matches them);
        // SYSTEMD_PAGER and --no-pager: never a pager. No shell: arguments reach journalctl as
        // they are.
        child = spawn(JOURNALCTL, args, {
          stdio: ['ignore', 'pipe', 'pipe'],
          env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C.UTF-8', SYSTEMD_PAGER: 'cat' },
        });
      } catch (error) {
        return reject(spawnFailure(error as NodeJS.ErrnoException));
      }
      child.once('error', (error: NodeJS.ErrnoException) => reject(spawnFailure(error)));
      child.once('spawn', () => {
        if (child.pid === undefined || child.pid <= 0) return reject(new JournalctlSpawnError('cannot start journalctl: it was given no process id'));
        resolve(new Journalctl(child as ChildProcess & { pid: number }));
      });
    });
  }

  get pid(): number {
    return this.child.pid;
  }

  get stdout(): Readable {
    return this.child.stdout!;
  }

  /** Ends journalctl (SIGTERM) unless it has exited; resolves once it has. */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.stdout?.destroy();
      this.child.kill('SIGTERM');
    }
    await this.exited;
  }
}

/** What a failed spawn of journalctl means, by its errno (spawn(3p), fork(2), execve(2)). */
function spawnFailure(error: NodeJS.ErrnoException): Error {
  switch (error.code) {
    case 'ENOENT':
      return new JournalUnavailableError('cannot read stream logs: journalctl is not installed (Debian: apt-get install systemd)');
    case 'EACCES':
      return new JournalUnavailableError('cannot read stream logs: journalctl may not be run by this server\'s user (EACCES)');
    case 'EAGAIN':
      return new JournalctlSpawnError('cannot start journalctl: no process slot is left (fork: EAGAIN, the server\'s or its cgroup\'s process limit); retry later');
    case 'EMFILE':
      return new JournalctlSpawnError('cannot start journalctl: the server has no file descriptor left (EMFILE, its RLIMIT_NOFILE); retry later');
    case 'ENFILE':
      return new JournalctlSpawnError('cannot start journalctl: the host has no file descriptor left (ENFILE); retry later');
    case 'ENOMEM':
      return new JournalctlSpawnError('cannot start journalctl: out of memory (ENOMEM); retry later');
    default:
      return new JournalctlSpawnError(`cannot start journalctl: ${error.code ?? error.message}`);
  }
}

/**
 * One running `journalctl --follow` for a unit. It starts after the unit's newest entry at the
 * time (found by a one-entry read first), so no entry written after start() resolves can be
 * missed, and it is read as fast as journalctl writes: slow readers are the caller's concern.
 */
export class JournalFollowProcess {
  private stopRequested = false;
  /** Resolves when journalctl has exited: undefined after stop(), else why it ended by itself. */
  readonly ended: Promise<Error | undefined>;

  private constructor(
    private readonly journalctl: Journalctl,
    /** The unit's newest entry when it started (undefined: it had none): it prints those after it. */
    readonly startsAfter: JournalEntry | undefined,
    source: JournalSource,
    unit: string,
    onEntry: (entry: JournalEntry) => void,
  ) {
    const lines = (async () => {
      for await (const entry of journalEntries(journalctl.stdout)) onEntry(entry);
    })().catch(() => undefined);
    this.ended = Promise.all([journalctl.exited, journalctl.stderr, lines]).then(([code, text]) =>
      this.stopRequested
        ? undefined
        : (readProblem(source, text, code) ?? new JournalUnavailableError(`journalctl --follow for ${unit} ended by itself (exit code ${code})`)),
    );
  }

  /** Starts following; when `signal` aborts first, no follower is spawned and this rejects. */
  static async start(source: JournalSource, unit: string, onEntry: (entry: JournalEntry) => void, signal?: AbortSignal): Promise<JournalFollowProcess> {
    let newest: JournalEntry | undefined;
    for await (const entry of readJournal(source, unit, { lines: 1 }, signal)) newest = entry;
    signal?.throwIfAborted();
    const journalctl = await Journalctl.start(journalctlArgs(source, unit, { afterCursor: newest?.cursor, follow: true }));
    return new JournalFollowProcess(journalctl, newest, source, unit, onEntry);
  }

  get pid(): number {
    return this.journalctl.pid;
  }

  /** Ends journalctl; resolves once it has exited. */
  async stop(): Promise<void> {
    this.stopRequested = true;
    await this.journalctl.stop();
  }
}

/** The first few KiB of a stream (journalctl's error messages are a line or two). */
async function collect(stream: Readable, max = 4096): Promise<string> {
  let text = '';
  try {
    for await (const chunk of stream) if (text.length < max) text += String(chunk);
  } catch {
    // Destroyed when journalctl was stopped: what came so far is all there is.
  }
  return text.slice(0, max);
}

function describeSource(source: JournalSource): string {
  return source.directory === undefined ? 'the system journal' : `the journal in ${source.directory}`;
}

/**
 * Fails early when there is no journal at all: journalctl then prints nothing and exits 0, which
 * would read as "no lines" rather than "nothing to read".
 */
function checkJournalPresent(source: JournalSource): void {
  const dirs = source.directory === undefined ? SYSTEM_JOURNAL_DIRS : [source.directory];
  if (dirs.some(hasJournalFiles)) return;
  const fix =
    source.directory === undefined
      ? 'systemd-journald keeps no journal on this host (is it running? Storage=none in journald.conf?)'
      : 'is this the journal directory of the systemd the server drives?';
  throw new JournalUnavailableError(`cannot read stream logs: there are no journal files in ${dirs.join(' or ')}: ${fix}`);
}

/** Journal files are `<dir>/<machine-id>/*.journal` (or directly in a directory given by hand). */
function hasJournalFiles(dir: string, depth = 0): boolean {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // A directory we may not list may still hold files journalctl can open (or say why not).
    if (code === 'EACCES') return true;
    if (code === 'ENOENT' || code === 'ENOTDIR') return false;
    throw spawnFailure(error as NodeJS.ErrnoException);
  }
  return entries.some((entry) =>
    entry.isDirectory() ? depth === 0 && hasJournalFiles(join(dir, entry.name), 1) : /\.journal~?$/.test(entry.name),
  );
}

/** What journalctl's exit code and stderr say went wrong, if anything. */
function readProblem(source: JournalSource, stderr: string, code: number): Error | undefined {
  const said = stderr.trim().split('\n')[0] ?? '';
  // Without read access journalctl opens only the caller's own files, or none, and says so:
  // "No journal files were opened due to insufficient permissions." (exit 1), or, with exit 0,
  // "Hint: You are currently not seeing messages from other users and the system."
  if (/insufficient permissions|not seeing messages from other users/i.test(stderr)) {
    return new JournalUnavailableError(
      `cannot read stream logs: this server's user may not read ${describeSource(source)} (journalctl: "${said}"). ` +
        'Add the user to the systemd-journal group (deploy/ does) and restart the server.',
    );
  }
  if (code === 0) return undefined;
  if (/cursor/i.test(stderr)) return new JournalQueryError(`journalctl cannot resume after that cursor: ${said}`);
  return new JournalUnavailableError(`cannot read stream logs from ${describeSource(source)}: journalctl exited ${code}: ${said}`);
}
