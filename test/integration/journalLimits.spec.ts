import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { type ClientReadableStream, credentials, Metadata, type ServiceError, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedSystemd } from '../../src/dev/embeddedSystemd.js';
import { type LogsResponse, StreamServiceClient } from '../../gen/lit/stream/v1/stream.js';
import { type Harness, rpc, startHarness, waitFor } from './harness.js';

/**
 * The journalctl processes a server runs for Logs are bounded, and running out of what spawning
 * one needs (file descriptors, process slots) is an answer to one call, never the server's end.
 * `chatty` writes 12,000 lines of 1,000 characters once: a read of 10,000 of them is some 10 MB of
 * journalctl output, so a caller that does not read holds its journalctl (blocked on its pipe).
 */
const CHATTY = 'lit-stream-contoso@chatty.service';
const UNITS = {
  [CHATTY]: `[Service]\nType=exec\nExecStart=/bin/sh -c 'i=0; while [ $$i -lt 12000 ]; do echo "line $$i ${'x'.repeat(1000)}"; i=$$((i+1)); done; exec sleep infinity'\n`,
};
const chatty = { team: 'contoso', name: 'chatty' };

/** The journalctl processes whose parent is `pid`. */
function journalctlsOf(pid: number): number {
  let count = 0;
  for (const entry of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const [, comm, rest] = /^\d+ \((.*)\) (.*)$/s.exec(readFileSync(`/proc/${entry}/stat`, 'utf8')) ?? [];
      if (comm === 'journalctl' && Number(rest?.split(' ')[1]) === pid && !rest?.startsWith('Z')) count++;
    } catch {
      // gone meanwhile
    }
  }
  return count;
}

/** A Logs call of every line that its caller does not read (paused), and how it ended, if it has. */
function unreadLogs(client: StreamServiceClient) {
  const call: ClientReadableStream<LogsResponse> = client.logs({ ...chatty, follow: false, afterCursor: '', tailLines: 10_000 }, new Metadata());
  let ended: ServiceError | 'ok' | undefined;
  call.on('data', () => call.pause());
  call.on('error', (error: ServiceError) => (ended = error));
  call.on('end', () => (ended ??= 'ok'));
  call.pause();
  return {
    call,
    get ended() {
      return ended;
    },
  };
}

async function untilChattyWroteAll(client: StreamServiceClient): Promise<void> {
  await waitFor(
    async () => {
      const lines: string[] = [];
      await new Promise<void>((resolve, reject) => {
        const call = client.logs({ ...chatty, follow: false, afterCursor: '', tailLines: 1 }, new Metadata(), { deadline: Date.now() + 10_000 });
        call.on('data', (response: LogsResponse) => lines.push(...response.entries.map((entry) => entry.message)));
        call.on('error', reject);
        call.on('end', () => resolve());
      });
      return lines.some((line) => line.startsWith('line 11999 '));
    },
    20_000,
    'chatty to have written its lines',
  );
}

describe('journalctl processes are capped per identity', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(UNITS);
    await h.sandbox.withManager((m) => m.StartUnit(CHATTY, 'replace'));
    await untilChattyWroteAll(h.client);
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('runs at most 8 for one caller that reads none of its 12 Logs calls, and refuses the rest naming the cap', async () => {
    const calls = Array.from({ length: 12 }, () => unreadLogs(h.client));
    try {
      const refused = () => calls.filter((c) => c.ended !== undefined && c.ended !== 'ok');
      await waitFor(() => refused().length >= 4, 15_000, 'four calls to be refused');
      expect(refused()).toHaveLength(4);
      expect(calls.filter((c) => c.ended === 'ok')).toHaveLength(0);
      expect(journalctlsOf(process.pid)).toBe(8);
      for (const refused of calls.filter((c) => c.ended !== undefined)) {
        expect((refused.ended as ServiceError).code).toBe(status.RESOURCE_EXHAUSTED);
        expect((refused.ended as ServiceError).details).toMatch(/anonymous already has 8 journal reads running \(--max-journalctl-per-identity\)/);
      }
    } finally {
      for (const c of calls) c.call.cancel();
    }
    await waitFor(() => journalctlsOf(process.pid) === 0, 10_000, 'every journalctl to end');
    // Slots are given back: the caller reads again.
    expect((await rpc(h.client, h.client.getStatus, { ...chatty, logLines: 3 })).logs).toHaveLength(3);
  });

  it("counts GetStatus's log lines against the caller's cap: at it, the status comes without them, saying why", async () => {
    const calls = Array.from({ length: 8 }, () => unreadLogs(h.client));
    try {
      await waitFor(() => journalctlsOf(process.pid) === 8, 15_000, 'eight journalctl processes, one per unread call');
      const { status: shown, logs, logsUnavailable } = await rpc(h.client, h.client.getStatus, { ...chatty, logLines: 3 });
      expect(shown?.name).toBe('chatty');
      expect(logs).toEqual([]);
      expect(logsUnavailable).toMatch(/anonymous already has 8 journal reads running \(--max-journalctl-per-identity\)/);
      expect(journalctlsOf(process.pid)).toBe(8);
    } finally {
      for (const c of calls) c.call.cancel();
    }
    await waitFor(() => journalctlsOf(process.pid) === 0, 10_000, 'every journalctl to end');
  });
});

/** lit-streamd as a command in a process group of its own, so that no signal it sends by mistake can reach this test. */
function launchDaemon(sandbox: EmbeddedSystemd, args: string[] = []) {
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/daemon/cli.ts', '--listen', '127.0.0.1:0', '--bus', sandbox.busAddress, '--journal-directory', sandbox.journalDirectory, '--settle-ms', '0', ...args],
    { stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  const lines: Record<string, unknown>[] = [];
  let stderr = '';
  createInterface({ input: child.stdout! }).on('line', (line) => lines.push(JSON.parse(line)));
  child.stderr!.on('data', (chunk) => (stderr += String(chunk)));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    lines,
    exited,
    get stderr() {
      return stderr;
    },
    async client(): Promise<StreamServiceClient> {
      await waitFor(() => lines.some((line) => line.msg === 'lit-streamd started'), 15_000, 'the startup line');
      return new StreamServiceClient(String(lines.find((line) => line.msg === 'lit-streamd started')!.listen), credentials.createInsecure());
    },
  };
}

/**
 * Opens unread Logs calls until `refusals` of them are refused; every refusal must be `code`
 * with a message matching `cause`, and the server must keep serving meanwhile.
 */
async function exhaust(client: StreamServiceClient, serverPid: number, code: status, cause: RegExp) {
  const calls: ReturnType<typeof unreadLogs>[] = [];
  const refused = () => calls.filter((c) => c.ended !== undefined && c.ended !== 'ok') as Array<{ ended: ServiceError }>;
  for (let i = 0; i < 40 && refused().length === 0; i++) {
    const running = journalctlsOf(serverPid);
    const call = unreadLogs(client);
    calls.push(call);
    // Each call either holds a journalctl of its own or is refused.
    await waitFor(() => call.ended !== undefined || journalctlsOf(serverPid) > running, 10_000, 'the call to run journalctl or be refused');
  }
  try {
    expect(refused().length).toBeGreaterThan(0);
    for (const c of refused()) {
      expect(c.ended.code, c.ended.details).toBe(code);
      expect(c.ended.details).toMatch(cause);
    }
  } finally {
    for (const c of calls) c.call.cancel();
  }
}

describe('a server out of file descriptors or process slots', () => {
  let sandbox: EmbeddedSystemd;
  beforeAll(async () => {
    sandbox = await EmbeddedSystemd.boot();
    for (const [unit, contents] of Object.entries(UNITS)) await sandbox.writeUnit(unit, contents);
    await sandbox.reload();
    await sandbox.withManager((m) => m.StartUnit(CHATTY, 'replace'));
  });
  afterAll(async () => {
    await sandbox?.shutdown();
  });

  it('answers UNAVAILABLE saying it has no file descriptor left (ulimit -n), keeps serving, and exits only when asked', async () => {
    const daemon = launchDaemon(sandbox, ['--max-journalctl', '1000', '--max-journalctl-per-identity', '1000']);
    const client = await daemon.client();
    try {
      await untilChattyWroteAll(client);
      // The server's own descriptors now, and a few more: a handful of journalctl pipes.
      const open = readdirSync(`/proc/${daemon.child.pid}/fd`).length;
      execFileSync('prlimit', [`--pid=${daemon.child.pid}`, `--nofile=${open + 8}:${open + 8}`]);
      await exhaust(client, daemon.child.pid!, status.UNAVAILABLE, /no file descriptor left \(EMFILE/);
      await waitFor(() => journalctlsOf(daemon.child.pid!) === 0, 10_000, 'every journalctl to end');
      // Still serving, on the same connection; and a read works again once descriptors are free.
      expect((await rpc(client, client.getStatus, { ...chatty, logLines: 2 })).logs).toHaveLength(2);
      expect(daemon.child.exitCode).toBeNull();
    } finally {
      client.close();
      daemon.child.kill('SIGTERM');
    }
    expect(await daemon.exited).toEqual({ code: 0, signal: null });
    expect(daemon.stderr).not.toMatch(/Unhandled|TypeError/);
  });

  it('answers UNAVAILABLE saying it has no process slot left (a cgroup pids.max), keeps serving, and exits only when asked', async () => {
    const pidsRoot = '/sys/fs/cgroup/pids';
    const cgroup = existsSync(join(pidsRoot, 'cgroup.procs'))
      ? join(pidsRoot, `lit-stream-pids-${process.pid}-${randomBytes(4).toString('hex')}`)
      : join('/sys/fs/cgroup/unified', `lit-stream-pids-${process.pid}-${randomBytes(4).toString('hex')}`);
    const daemon = launchDaemon(sandbox, ['--max-journalctl', '1000', '--max-journalctl-per-identity', '1000']);
    const client = await daemon.client();
    await mkdir(cgroup);
    try {
      await untilChattyWroteAll(client);
      writeFileSync(join(cgroup, 'cgroup.procs'), String(daemon.child.pid));
      // The server's threads now, and room for two journalctl processes.
      const tasks = Number(readFileSync(join(cgroup, 'pids.current'), 'utf8'));
      writeFileSync(join(cgroup, 'pids.max'), String(tasks + 2));
      await exhaust(client, daemon.child.pid!, status.UNAVAILABLE, /no process slot is left \(fork: EAGAIN/);
      await waitFor(() => journalctlsOf(daemon.child.pid!) === 0, 10_000, 'every journalctl to end');
      expect((await rpc(client, client.getStatus, { ...chatty, logLines: 2 })).logs).toHaveLength(2);
      expect(daemon.child.exitCode).toBeNull();
      writeFileSync(join(cgroup, 'pids.max'), 'max');
    } finally {
      client.close();
      daemon.child.kill('SIGTERM');
    }
    expect(await daemon.exited).toEqual({ code: 0, signal: null });
    expect(daemon.stderr).not.toMatch(/Unhandled|TypeError/);
    // Empty once the server has exited.
    await waitFor(async () => rmdir(cgroup).then(() => true, () => false), 5_000, 'the cgroup to be removed');
  });
});
