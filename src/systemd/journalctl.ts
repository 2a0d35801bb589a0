import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { Failure, type FailureCode } from '../core/errors.js';
import { type JournalEntry, OUTPUT_FIELDS, parseJournalJson } from './journalEntry.js';

const JOURNALCTL = 'journalctl';

/** Longest line of journalctl output read; a longer entry is skipped (MESSAGE is cut far shorter). */
const MAX_LINE_BYTES = 1024 * 1024;

/** The journals journald keeps when none is named (systemd-journald.service(8), "FILES"). */
const SYSTEM_JOURNAL_DIRS = ['/run/log/journal', '/var/log/journal'];

/** Where a manager's units log, and how journalctl tells its units' entries apart. */
export interface JournalSource {
  /**
   * A directory of journal files (`journalctl --directory=`), e.g. the embedded systemd's; when
   * absent, the system journal.
   */
  readonly directory?: string;
  /**
   * Whose units: the system manager's (`--unit=`: `_SYSTEMD_UNIT=`, and the manager's own lines
   * `UNIT=` with `_PID=1`) or a user manager's (`--user-unit=`: `_SYSTEMD_USER_UNIT=`, and the
   * manager's lines `USER_UNIT=`, both for journalctl's own uid). journalctl(1), "-u", "--user-unit".
   */
  readonly manager: 'system' | 'user';
}

/** What to read of one unit's entries. */
export interface JournalQuery {
  /** The newest this many entries (`--lines=`); with `afterCursor`, the first this many after it. */
  readonly lines?: number;
  /** Only entries after this cursor (`--after-cursor=`), oldest first. */
  readonly afterCursor?: string;
}

/** The journal cannot be read: no journal there, or not readable by this process. */
export class JournalUnavailableError extends Failure {
  override readonly name = 'JournalUnavailableError';
  /** Fixed by whoever runs the server (the message says how), not by retrying. */
  readonly code: FailureCode = 'FAILED_PRECONDITION';
}

/** journalctl refused the query itself (a cursor it could not seek to). */
export class JournalQueryError extends Error {
  override readonly name = 'JournalQueryError';
}

/**
 * Unit names reach journalctl only as `--unit=`/`--user-unit=` values, and only names without any
 * glob character (`*?[]\`): journalctl expands a glob against every unit in the journal, so a
 * name with one could match other units. Callers hand over names made by UnitNaming from a
 * validated StreamRef; this is the last check before a process is spawned.
 */
const UNIT_NAME = /^[A-Za-z0-9:_.@][A-Za-z0-9:_.@-]*\.service$/;

export function journalctlArgs(source: JournalSource, unit: string, query: JournalQuery & { follow?: boolean }): string[] {
  if (!UNIT_NAME.test(unit)) throw new Error(`refusing to read the journal of ${JSON.stringify(unit)}: not a plain service name`);
  const args = ['--no-pager', '--output=json', '--all', `--output-fields=${OUTPUT_FIELDS.join(',')}`];
  if (source.directory !== undefined) args.push(`--directory=${source.directory}`);
  args.push(source.manager === 'system' ? `--unit=${unit}` : `--user-unit=${unit}`);
  if (query.afterCursor !== undefined) args.push(`--after-cursor=${query.afterCursor}`);
  // --follow alone shows the last 10 first; say how many, always.
  args.push(`--lines=${query.lines === undefined ? 'all' : String(query.lines)}`);
  if (query.follow) args.push('--follow');
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
  const child = spawnJournalctl(journalctlArgs(source, unit, query));
  const stderr = collect(child.stderr!);
  const exited = exitOf(child);
  const abort = () => child.kill('SIGTERM');
  signal?.addEventListener('abort', abort, { once: true });
  let completed = false;
  try {
    for await (const line of jsonLines(child.stdout!)) {
      const entry = parseJournalJson(line);
      if (entry) yield entry;
    }
    const code = await exited;
    signal?.throwIfAborted();
    const problem = readProblem(source, await stderr, code);
    if (problem) throw problem;
    completed = true;
  } finally {
    signal?.removeEventListener('abort', abort);
    if (!completed) {
      child.stdout?.destroy();
      child.kill('SIGTERM');
      await exited;
    }
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
    private readonly child: ChildProcess,
    /** The unit's newest entry when it started (undefined: it had none): it prints those after it. */
    readonly startsAfter: JournalEntry | undefined,
    source: JournalSource,
    unit: string,
    onEntry: (entry: JournalEntry) => void,
  ) {
    const stderr = collect(child.stderr!);
    const lines = (async () => {
      for await (const line of jsonLines(child.stdout!)) {
        const entry = parseJournalJson(line);
        if (entry) onEntry(entry);
      }
    })().catch(() => undefined);
    this.ended = Promise.all([exitOf(child), stderr, lines]).then(([code, text]) =>
      this.stopRequested
        ? undefined
        : (readProblem(source, text, code) ?? new JournalUnavailableError(`journalctl --follow for ${unit} ended by itself (exit code ${code})`)),
    );
  }

  static async start(source: JournalSource, unit: string, onEntry: (entry: JournalEntry) => void): Promise<JournalFollowProcess> {
    let newest: JournalEntry | undefined;
    for await (const entry of readJournal(source, unit, { lines: 1 })) newest = entry;
    const child = spawnJournalctl(journalctlArgs(source, unit, { afterCursor: newest?.cursor, follow: true }));
    return new JournalFollowProcess(child, newest, source, unit, onEntry);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Ends journalctl; resolves once it has exited. */
  async stop(): Promise<void> {
    this.stopRequested = true;
    this.child.kill('SIGTERM');
    await this.ended;
  }
}

function spawnJournalctl(args: string[]): ChildProcess {
  // LC_ALL=C.UTF-8: journalctl's messages in one language (readProblem matches them); SYSTEMD_PAGER
  // and --no-pager: never a pager. No shell: arguments reach journalctl as they are.
  return spawn(JOURNALCTL, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C.UTF-8', SYSTEMD_PAGER: 'cat' },
  });
}

function exitOf(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    child.once('error', () => resolve(127)); // journalctl is not installed
    // 'exit', not 'close': after an early kill nobody drains stdout, so it may never close.
    child.once('exit', (code) => resolve(code ?? 1));
  });
}

/** The first few KiB of a stream (journalctl's error messages are a line or two). */
async function collect(stream: Readable, max = 4096): Promise<string> {
  let text = '';
  for await (const chunk of stream) if (text.length < max) text += String(chunk);
  return text.slice(0, max);
}

/**
 * Lines of journalctl's output. journalctl escapes newlines inside JSON strings, so each line is
 * one entry. A line longer than MAX_LINE_BYTES (a huge field in an entry) is skipped rather than
 * held in memory whole.
 */
async function* jsonLines(stream: Readable): AsyncGenerator<string> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let skipping = false;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    let start = 0;
    for (let newline = chunk.indexOf(0x0a); newline >= 0; newline = chunk.indexOf(0x0a, start)) {
      const piece = chunk.subarray(start, newline);
      start = newline + 1;
      if (!skipping) yield Buffer.concat([...pending, piece]).toString('utf8');
      pending = [];
      pendingBytes = 0;
      skipping = false;
    }
    if (start < chunk.length && !skipping) {
      pending.push(chunk.subarray(start));
      pendingBytes += chunk.length - start;
      if (pendingBytes > MAX_LINE_BYTES) {
        pending = [];
        pendingBytes = 0;
        skipping = true;
      }
    }
  }
  if (!skipping && pendingBytes > 0) yield Buffer.concat(pending).toString('utf8');
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
    // A directory we may not list may still hold files journalctl can open (or say why not).
    return (error as NodeJS.ErrnoException).code === 'EACCES';
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
  if (code === 127) return new JournalUnavailableError('cannot read stream logs: journalctl is not installed (Debian: apt-get install systemd)');
  if (code === 0) return undefined;
  if (/cursor/i.test(stderr)) return new JournalQueryError(`journalctl cannot resume after that cursor: ${said}`);
  return new JournalUnavailableError(`cannot read stream logs from ${describeSource(source)}: journalctl exited ${code}: ${said}`);
}

/**
 * Who wrote an entry that journalctl matched for a unit, judged only by fields journald sets itself
 * from the sender's credentials (systemd.journal-fields(7), "Trusted journal fields"): the unit's
 * own processes (`_SYSTEMD_UNIT=`/`_SYSTEMD_USER_UNIT=` is the unit), or its manager (PID 1 for the
 * system manager; a user manager runs in its `init.scope`), or systemd-coredump. journalctl also
 * matches `UNIT=`/`USER_UNIT=`, which any process may put in its own entries; an entry that only
 * such a field ties to the unit is undefined here, so no other worker can speak for systemd.
 */
export function entryOrigin(entry: JournalEntry, source: JournalSource, unit: string): 'unit' | 'manager' | undefined {
  if (source.manager === 'user') {
    if (entry.systemdUserUnit === unit) return 'unit';
    if (entry.systemdUserUnit === 'init.scope') return 'manager';
  } else {
    if (entry.systemdUnit === unit) return 'unit';
    if (entry.pid === 1) return 'manager';
  }
  if (entry.systemdUnit?.startsWith('systemd-coredump@')) return 'manager';
  return undefined;
}
