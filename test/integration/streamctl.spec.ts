import { type AddressInfo, createServer } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeSharedClients, Stream } from '../../clients/typescript/src/index.js';
import { hashToken } from '../../src/auth/index.js';
import { FIXTURE_UNITS, type Harness, startHarness, waitFor } from './harness.js';
import { type Run, SERVER_STREAMCTL, spawnStreamctl, streamctl, userEnv } from '../support/streamctl.js';

/**
 * lit-streamctl on pipes and as JSON, through the real server on the embedded systemd: what each
 * command prints, the exit codes a script relies on, and systemd's own view of what it did. The
 * server has an access file, so every run also proves the token reaches it (LIT_STREAM_TOKEN or
 * --token).
 */

const TOKENS = { admin: 'ctl-admin-token-Rt4', reader: 'ctl-reader-token-Hb8' };
const ACCESS_FILE = `
tokens:
  - { name: ops, sha256: ${hashToken(TOKENS.admin)} }
  - { name: dashboard, sha256: ${hashToken(TOKENS.reader)} }
grants:
  ops: admin
  dashboard: { contoso: reader }
`;
// Anything but plain text on a pipe: SGR colour codes, cursor movement.
const ESCAPE = /\x1b\[/;

let h: Harness;
let work: string;
let env: NodeJS.ProcessEnv;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'lit-streamctl-'));
  const accessFile = join(work, 'access.yaml');
  await writeFile(accessFile, ACCESS_FILE);
  h = await startHarness(
    // A worker that writes a line and stays: for logs (acme's only stream, so contoso is as in every spec).
    { ...FIXTURE_UNITS, 'lit-stream-acme@talker.service': `[Service]\nType=exec\nExecStart=/bin/sh -c 'echo "talker $$$$ up"; exec sleep infinity'\n` },
    { accessFile },
  );
  env = userEnv({ LIT_STREAM_ADDR: h.address, LIT_STREAM_TOKEN: TOKENS.admin });
});
afterAll(async () => {
  closeSharedClients();
  await h?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

const unit = (name: string) => `lit-stream-contoso@${name}.service`;
/**
 * systemd's lines on why the crash stream's start failed: a failed start's answer waits for the
 * first (a notice), and has whichever of them journald had filed by then.
 */
const SYSTEMD_REASON = /Main process exited, code=exited, status=1\/FAILURE|Failed with result 'exit-code'/;
/**
 * Runs a read (status, logs) until what it prints passes `ok`, and returns that run: journald files
 * the lines it is sent asynchronously, so a line systemd has written may not be readable yet. Never
 * for an action: each run would be another action, and an answer that only sometimes carries what
 * is expected would pass.
 */
async function runUntil(args: string[], ok: (run: Run) => boolean): Promise<Run> {
  let run = await streamctl(args, env);
  await waitFor(async () => ok(run) || ok((run = await streamctl(args, env))), 15_000, `'lit-streamctl ${args.join(' ')}' to print what is expected`);
  return run;
}
const activeState = async (name: string) => (await h.unitState(unit(name))).ActiveState;
/** Puts a stream in a known state through the server, as another client would. */
async function action(method: 'start' | 'stop', name: string): Promise<void> {
  await new Stream('contoso', name, { address: h.address, token: TOKENS.admin })[method]();
}

describe('list TEAM', () => {
  it('prints a table like systemctl list-units, then the count; plain text on a pipe', async () => {
    await action('start', 'bitcoin');
    await action('stop', 'ethereum');
    const { code, stdout, stderr } = await streamctl(['list', 'contoso'], env);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout).not.toMatch(ESCAPE);
    const lines = stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^\s+NAME\s+LOAD\s+ENABLED\s+ACTIVE\s+SUB\s+UPTIME\s+PID\s+MEMORY$/);
    const pid = (await h.unitState(unit('bitcoin'))).MainPID;
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^  bitcoin +loaded +enabled +active +running +\\d+(ms|s)( \\d+s)? +${pid} +\\d+(B|\\.\\d[KMG])$`)));
    expect(lines).toContainEqual(expect.stringMatching(/^ {2}ethereum +\S+ +enabled +inactive +dead +- +- +-$/));
    expect(lines).toContainEqual(expect.stringMatching(/^● masked +masked +masked +inactive/));
    expect(lines.slice(1).filter((line) => /^[ ●] \S/.test(line)).map((line) => line.slice(2).split(/ +/)[0])).toEqual([
      'bitcoin',
      'crash',
      'ethereum',
      'masked',
      'slow',
    ]);
    expect(lines.slice(-2)).toEqual(['', '5 streams listed.']);
  });

  it('-o json: one object per stream per line, as status -o json prints it', async () => {
    await action('start', 'bitcoin');
    const { code, stdout } = await streamctl(['list', 'contoso', '-o', 'json'], env);
    expect(code).toBe(0);
    const objects = stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(objects.map((o) => o.name)).toEqual(['bitcoin', 'crash', 'ethereum', 'masked', 'slow']);
    expect(objects[0]).toMatchObject({
      team: 'contoso',
      name: 'bitcoin',
      active: 'active',
      status: 'running',
      pid: (await h.unitState(unit('bitcoin'))).MainPID,
      details: { unit: unit('bitcoin'), loadState: 'loaded', usageSource: 'procfs' },
    });
    // No log lines were read for a table, so none are claimed (status -o json has them).
    expect(objects[0]!.details).not.toHaveProperty('logs');
  });

  it('a team without streams: no table, a count of 0', async () => {
    const { code, stdout } = await streamctl(['list', 'nobody-here'], env);
    expect({ code, stdout }).toEqual({ code: 0, stdout: '0 streams listed.\n' });
  });
});

describe('status TEAM/NAME…', () => {
  it('lays a running stream out like systemctl status and exits 0', async () => {
    await action('start', 'bitcoin');
    const systemd = await h.unitState(unit('bitcoin'));
    const { code, stdout, stderr } = await streamctl(['status', 'contoso/bitcoin'], env);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout).not.toMatch(ESCAPE);
    const lines = stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('● contoso/bitcoin');
    // systemd's UnitFileState: it calls a symlink in its configuration directory `enabled` (an alias).
    expect(lines[1]).toBe(`     Loaded: loaded (${unit('bitcoin')}; enabled)`);
    expect(lines[2]).toMatch(/^ {5}Active: active \(running\) since \w{3} \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S+; \d+(ms|s|min)( \d+s)? ago$/);
    expect(lines).toContain(`   Main PID: ${systemd.MainPID}`);
    expect(lines).toContainEqual(expect.stringMatching(/^ {6}Tasks: \d+$/));
    expect(lines).toContainEqual(expect.stringMatching(/^ {5}Memory: \d+(B|\.\d[KMG])$/));
    expect(lines).toContain('   Restarts: 0');
  });

  it('exits 3 for a stream that is not running, and shows how a failed one ended', async () => {
    await action('stop', 'ethereum');
    const stopped = await streamctl(['status', 'contoso/ethereum'], env);
    expect(stopped.code).toBe(3);
    expect(stopped.stdout).toMatch(/^○ contoso\/ethereum\n.*\n {5}Active: inactive \(dead\)\n/);

    await streamctl(['start', 'contoso/crash'], env);
    const failed = await runUntil(['status', 'contoso/crash'], (run) => run.stdout.includes('Failed to start lit-stream-contoso@crash'));
    expect(failed.code).toBe(3);
    expect(failed.stdout).toContain('× contoso/crash\n');
    expect(failed.stdout).toContain('     Active: failed (Result: exit-code)\n');
    expect(failed.stdout).toContain('  Last exit: code=exited, status=1/FAILURE\n');
    // Then, after a blank line, its log lines since it last started, as systemctl status ends.
    const [, lines] = failed.stdout.split('\n\n');
    expect(lines!.trimEnd().split('\n')).toContainEqual(
      expect.stringMatching(/^\w{3} \d\d \d\d:\d\d:\d\d systemd\[\d+\]: Failed to start lit-stream-contoso@crash\.service/),
    );
  });

  it('exits 4 for no such stream, with one line on stderr naming the gRPC code', async () => {
    const { code, stdout, stderr } = await streamctl(['status', 'contoso/dogecoin'], env);
    expect(code).toBe(4);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/^lit-streamctl: contoso\/dogecoin: NOT_FOUND: stream 'dogecoin' of team 'contoso' is not declared[^\n]*\n$/);
  });

  it('several streams: each in the order named; the exit code of the first that is not running', async () => {
    await action('start', 'bitcoin');
    await action('stop', 'ethereum');
    const { code, stdout, stderr } = await streamctl(['status', 'contoso/bitcoin', 'contoso/dogecoin', 'contoso/ethereum'], env);
    expect(code).toBe(4);
    expect(stdout.split('\n').filter((line) => /^[●○×] /.test(line))).toEqual(['● contoso/bitcoin', '○ contoso/ethereum']);
    expect(stdout).toContain('\n\n○ contoso/ethereum\n'); // a blank line between streams
    expect(stderr.trimEnd().split('\n')).toEqual([expect.stringContaining('contoso/dogecoin: NOT_FOUND')]);

    const running = await streamctl(['status', 'contoso/bitcoin', 'contoso/ethereum'], env);
    expect(running.code).toBe(3);
  });

  it('-o json: the client library\'s status() with the team, one line per stream', async () => {
    await action('start', 'bitcoin');
    await action('stop', 'ethereum');
    const { code, stdout } = await streamctl(['-o', 'json', 'status', 'contoso/bitcoin', 'contoso/ethereum'], env);
    expect(code).toBe(3);
    const [bitcoin, ethereum] = stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    const systemd = await h.unitState(unit('bitcoin'));
    expect(bitcoin).toMatchObject({ team: 'contoso', name: 'bitcoin', active: 'active', status: 'running', pid: systemd.MainPID });
    expect(Object.keys(bitcoin!)).toEqual(['team', 'name', 'active', 'status', 'started', 'pid', 'tasks', 'memory', 'details']);
    expect(new Date((bitcoin!.details as { started: string }).started).getTime()).toBe(systemd.ActiveEnterTimestamp?.getTime());
    expect(ethereum).toMatchObject({ name: 'ethereum', active: 'inactive', status: 'dead', pid: null });
  });
});

describe('start | stop | restart TEAM/NAME…', () => {
  it('acts on several streams at once and answers in the order named', async () => {
    await action('stop', 'slow');
    await action('stop', 'bitcoin');
    const logsBefore = h.logs.length;
    // slow's start takes 2 s (ExecStartPre=sleep 2); bitcoin's is immediate.
    const { code, stdout, stderr } = await streamctl(['start', 'contoso/slow', 'contoso/bitcoin'], env);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout).toBe('contoso/slow: Stream started successfully.\ncontoso/bitcoin: Stream started successfully.\n');
    expect(await activeState('slow')).toBe('active');
    expect(await activeState('bitcoin')).toBe('active');
    // At once, not one after the other: the server answered bitcoin's Start before slow's.
    const answered = h.logs
      .slice(logsBefore)
      .filter((line) => line.method === 'Start' && line.code === 'OK' && !line.audit)
      .map((line) => line.stream);
    expect(answered).toEqual(['bitcoin', 'slow']);
  });

  it('stop and restart answer like start, and systemd did it', async () => {
    await action('start', 'ethereum');
    const pidBefore = (await h.unitState(unit('ethereum'))).MainPID;
    const restarted = await streamctl(['restart', 'contoso/ethereum'], env);
    expect(restarted).toMatchObject({ code: 0, stdout: 'contoso/ethereum: Stream restarted successfully.\n' });
    const after = await h.unitState(unit('ethereum'));
    expect(after.ActiveState).toBe('active');
    expect(after.MainPID).not.toBe(pidBefore);

    const stopped = await streamctl(['stop', 'contoso/ethereum'], env);
    expect(stopped).toMatchObject({ code: 0, stdout: 'contoso/ethereum: Stream stopped successfully.\n' });
    expect(await activeState('ethereum')).toBe('inactive');
  });

  it('a failing start exits 1 with systemd\'s reason and the log lines on stderr; the others still answer', async () => {
    await action('stop', 'bitcoin');
    // One start, once: the answer itself carries systemd's reason (the server waits for it).
    const { code, stdout, stderr } = await streamctl(['start', 'contoso/crash', 'contoso/bitcoin'], env);
    expect(code).toBe(1);
    expect(stdout).toBe('contoso/bitcoin: Stream started successfully.\n');
    const [reason, ...excerpt] = stderr.trimEnd().split('\n');
    expect(reason).toMatch(/^contoso\/crash: .*exit status 1/);
    expect(excerpt).toContainEqual(expect.stringMatching(new RegExp(`^ {2}\\w{3} \\d\\d \\d\\d:\\d\\d:\\d\\d systemd\\[\\d+\\]: .*(?:${SYSTEMD_REASON.source})`)));
    expect(await activeState('crash')).toBe('failed');
  });

  it('-o json: one answer per line, SUCCESS or FAILURE, with the message', async () => {
    const { code, stdout } = await streamctl(['start', '-o', 'json', 'contoso/crash', 'contoso/bitcoin'], env);
    expect(code).toBe(1);
    const answers = stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(answers).toEqual([
      { team: 'contoso', name: 'crash', action: 'start', status: 'FAILURE', message: expect.stringContaining('exit status 1'), logs: expect.any(Array) },
      { team: 'contoso', name: 'bitcoin', action: 'start', status: 'SUCCESS', message: 'Stream started successfully.' },
    ]);
    expect(answers[0]!.logs).toContainEqual(expect.objectContaining({ kind: 'line', source: 'systemd', message: expect.stringMatching(SYSTEMD_REASON) }));
  });

  it('exits 5 for no such stream (as systemctl start does), 1 for a masked one', async () => {
    const missing = await streamctl(['stop', 'contoso/dogecoin'], env);
    expect(missing.code).toBe(5);
    expect(missing.stderr).toMatch(/^lit-streamctl: contoso\/dogecoin: NOT_FOUND: [^\n]+\n$/);
    const masked = await streamctl(['start', 'contoso/masked'], env);
    expect(masked.code).toBe(1);
    expect(masked.stderr).toMatch(/^lit-streamctl: contoso\/masked: FAILED_PRECONDITION: [^\n]+\n$/);
  });
});

describe('logs TEAM/NAME', () => {
  /**
   * acme/talker says who it is, then stays running. (A worker that exits at once, like crash, is
   * no witness for its own lines: journald attributes a line to its unit by the writer's cgroup,
   * read from /proc, and a process already gone may leave its line without a unit.)
   */
  const talkerLine = (pid: number) => new RegExp(`^\\w{3} \\d\\d \\d\\d:\\d\\d:\\d\\d talker\\[${pid}\\]: talker ${pid} up$`);
  const talkerPid = async () => (await h.unitState('lit-stream-acme@talker.service')).MainPID ?? -1;
  const logsUntil = (args: string[], pattern: RegExp) => runUntil(args, (run) => run.stdout.split('\n').some((line) => pattern.test(line)));

  it("prints the worker's lines and systemd's about it, as journalctl -u does", async () => {
    await streamctl(['restart', 'acme/talker'], env);
    const pid = await talkerPid();
    const run = await logsUntil(['logs', '-n', '20', 'acme/talker'], talkerLine(pid));
    expect(run.code).toBe(0);
    expect(run.stdout).not.toMatch(ESCAPE);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines).toContainEqual(expect.stringMatching(/ systemd\[\d+\]: Started lit-stream-acme@talker\.service\.?$/));
    expect(lines.length).toBeLessThanOrEqual(20);

    const one = await streamctl(['logs', '-n', '1', 'acme/talker'], env);
    expect(one.stdout.trimEnd().split('\n')).toHaveLength(1);
  });

  it('--since: only lines since then; none yet from the future', async () => {
    await streamctl(['start', 'contoso/crash'], env);
    const recent = await logsUntil(['logs', '--since', '10min ago', 'contoso/crash'], /Failed to start lit-stream-contoso@crash\.service/);
    expect(recent.code).toBe(0);
    const future = await streamctl(['logs', '--since', '+1h', 'contoso/crash'], env);
    expect(future).toEqual({ code: 0, stdout: '-- No entries --\n', stderr: '' });
    const wrong = await streamctl(['logs', '--since', 'teatime', 'contoso/crash'], env);
    expect(wrong.code).toBe(2);
  });

  it("-o json: one object per line, as the client library's logs() yields it", async () => {
    await streamctl(['start', 'contoso/crash'], env); // systemd writes four lines about a failed start
    const run = await logsUntil(['logs', '-o', 'json', '-n', '3', 'contoso/crash'], /Failed to start/);
    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines).toHaveLength(3);
    for (const line of lines) {
      expect(line).toMatchObject({ kind: 'line', priority: expect.any(Number), message: expect.any(String), cursor: expect.any(String) });
      expect(['worker', 'systemd']).toContain(line.source);
      expect(Number.isNaN(Date.parse(String(line.time)))).toBe(false);
    }
  });

  it('-f sees a new line as it is written, until Ctrl-C (exit 0)', async () => {
    await streamctl(['restart', 'acme/talker'], env);
    await logsUntil(['logs', '-n', '1', 'acme/talker'], /./);
    const follow = spawnStreamctl(['logs', '-f', '-n', '1', 'acme/talker'], env);
    try {
      await waitFor(() => follow.lines.length >= 1, 15_000, 'the newest line, printed before following');
      await streamctl(['restart', 'acme/talker'], env);
      const pid = await talkerPid();
      await waitFor(() => follow.lines.some((line) => talkerLine(pid).test(line)), 15_000, "the restarted worker's line");
    } finally {
      follow.child.kill('SIGINT');
    }
    expect(await follow.exited).toBe(0);
    expect(follow.stderr()).toBe('');
  });

  it('exits 4 for no such stream', async () => {
    const run = await streamctl(['logs', 'contoso/dogecoin'], env);
    expect(run.code).toBe(4);
    expect(run.stderr).toMatch(/^lit-streamctl: NOT_FOUND: [^\n]+\n$/);
  });
});

describe('watch TEAM on a pipe', () => {
  it('prints each stream\'s state, then one line per change, until Ctrl-C (exit 0)', async () => {
    await action('stop', 'bitcoin');
    const watch = spawnStreamctl(['watch', 'contoso'], env);
    try {
      await waitFor(() => watch.lines.length >= 5, 15_000, 'the initial state of the 5 streams');
      expect(watch.lines.slice(0, 5).map((line) => line.split(' ').slice(0, 2).join(' '))).toEqual([
        'initial contoso/bitcoin',
        'initial contoso/crash',
        'initial contoso/ethereum',
        'initial contoso/masked',
        'initial contoso/slow',
      ]);
      expect(watch.lines[0]).toBe('initial contoso/bitcoin inactive (dead)');
      await action('start', 'bitcoin');
      const pid = (await h.unitState(unit('bitcoin'))).MainPID;
      await waitFor(() => watch.lines.includes(`changed contoso/bitcoin active (running), pid ${pid}`), 15_000, 'the change line');
      expect(watch.lines.join('\n')).not.toMatch(ESCAPE);
    } finally {
      watch.child.kill('SIGINT');
    }
    expect(await watch.exited).toBe(0);
  });

  it('-o json: one event per line, as the client library\'s watchStreams yields it', async () => {
    await action('stop', 'ethereum');
    const watch = spawnStreamctl(['watch', '-o', 'json', 'contoso'], env);
    const events = () => watch.lines.map((line) => JSON.parse(line) as { kind: string; status: Record<string, unknown> });
    try {
      await waitFor(() => watch.lines.length >= 5, 15_000, 'the initial events');
      expect(events()[2]).toMatchObject({ kind: 'INITIAL', status: { team: 'contoso', name: 'ethereum', active: 'inactive' } });
      await action('start', 'ethereum');
      await waitFor(
        () => events().some((e) => e.kind === 'CHANGED' && e.status.name === 'ethereum' && e.status.active === 'active'),
        15_000,
        'the CHANGED event',
      );
    } finally {
      watch.child.kill('SIGINT');
    }
    expect(await watch.exited).toBe(0);
  });
});

describe('connection and access errors', () => {
  it('a server that is not there: exit 69, one line naming UNAVAILABLE and the address', async () => {
    const closed = await streamctl(['list', 'contoso', '--addr', '127.0.0.1:1'], env);
    expect(closed.code).toBe(69);
    expect(closed.stderr).toMatch(/^lit-streamctl: UNAVAILABLE: [^\n]*127\.0\.0\.1:1[^\n]*\n$/);
  });

  it('a server that takes the connection but never answers: exit 69 too, naming DEADLINE_EXCEEDED and why', async () => {
    // A stopped lit-streamd, or a proxy that swallows connections: TCP is accepted, HTTP/2 never starts.
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as AddressInfo).port;
    try {
      const run = await streamctl(['status', 'contoso/bitcoin', '--addr', `127.0.0.1:${port}`], env);
      expect(run.code).toBe(69);
      expect(run.stderr).toMatch(/DEADLINE_EXCEEDED: .*took the connection but never answered/);
    } finally {
      silent.close();
    }
  }, 30_000);

  it('no token: exit 77 (UNAUTHENTICATED); a reader that starts: 77 (PERMISSION_DENIED); --token overrides the variable', async () => {
    const anonymous = await streamctl(['status', 'contoso/bitcoin'], userEnv({ LIT_STREAM_ADDR: h.address }));
    expect(anonymous.code).toBe(77);
    expect(anonymous.stderr).toMatch(/^lit-streamctl: contoso\/bitcoin: UNAUTHENTICATED: [^\n]+\n$/);

    const reader = await streamctl(['start', 'contoso/bitcoin', '--token', TOKENS.reader], env);
    expect(reader.code).toBe(77);
    expect(reader.stderr).toMatch(/^lit-streamctl: contoso\/bitcoin: PERMISSION_DENIED: [^\n]+\n$/);
    const readerReads = await streamctl(['list', 'contoso', '--token', TOKENS.reader], env);
    expect(readerReads.code).toBe(0);
  });
});

describe('the command line itself', () => {
  it('wrong usage exits 2 and says how to get help; so does a name the server rejects', async () => {
    const unknown = await streamctl(['frobnicate'], env);
    expect(unknown).toEqual({ code: 2, stdout: '', stderr: "lit-streamctl: unknown command 'frobnicate'\nTry 'lit-streamctl --help'.\n" });
    const malformed = await streamctl(['status', 'Contoso!/x'], env);
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toMatch(/^lit-streamctl: Contoso!\/x: INVALID_ARGUMENT: [^\n]+\n$/);
  });

  it('the server package\'s lit-streamctl (compiled into its dist/) is the same command', async () => {
    await action('start', 'bitcoin');
    const run = await streamctl(['status', 'contoso/bitcoin'], env, SERVER_STREAMCTL);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^● contoso\/bitcoin\n/);
    const version = await streamctl(['--version'], env, SERVER_STREAMCTL);
    expect(version.stdout).toMatch(/^lit-streamctl \S+ \(lit-stream\)\n$/);
  });
});
