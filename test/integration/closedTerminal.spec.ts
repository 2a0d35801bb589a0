import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedSystemd } from '../../src/dev/embeddedSystemd.js';
import { StreamServiceClient } from '../../gen/lit/stream/v1/stream.js';
import { userEnv } from '../support/streamctl.js';
import { TmuxPane } from '../support/tmux.js';
import { installUnits, rpc, waitFor } from './harness.js';

/**
 * lit-streamd and `npm start` on a terminal that is closed (its window, a tmux pane): the kernel
 * hangs the terminal up, sends SIGHUP to the session on it, and fails every later write to it with
 * EIO. Each runs under test/fixtures/recordExit.ts, which outlives the terminal to tell how the
 * server ended.
 */

const DEMO = resolve('dist/src/daemon/demo.js');
const LIT_STREAMD = resolve('dist/src/daemon/cli.js');
const RECORD_EXIT = ['--import', 'tsx', resolve('test/fixtures/recordExit.ts')];

interface Run {
  readonly pane: TmuxPane;
  readonly dir: string;
}

const runs: Run[] = [];

/** `argv` in a terminal of its own, its pid and exit status recorded in a directory of its own. */
async function inTerminal(argv: readonly string[], options: { ownSession?: boolean } = {}): Promise<Run> {
  const dir = await mkdtemp(join(tmpdir(), 'lit-stream-closed-terminal-'));
  const pane = await TmuxPane.start([process.execPath, ...RECORD_EXIT, dir, ...(options.ownSession ? ['--own-session'] : []), ...argv], userEnv({ LANG: 'C.UTF-8', NO_COLOR: '1' }), 120, 40);
  const run = { pane, dir };
  runs.push(run);
  await waitFor(() => existsSync(join(dir, 'pid')) || existsSync(join(dir, 'status')), 15_000, 'the command to be started');
  return run;
}

const pidOf = async (run: Run) => Number(await readFile(join(run.dir, 'pid'), 'utf8'));
const statusOf = async (run: Run) => (await readFile(join(run.dir, 'status'), 'utf8').catch(() => '')).trim() || undefined;

async function exitStatus(run: Run, what: string): Promise<string> {
  let status: string | undefined;
  await waitFor(async () => (status = await statusOf(run)) !== undefined, 30_000, what);
  return status!;
}

afterEach(async () => {
  // A server that did not end (the failure these specs look for) is ended here, embedded systemd
  // and all (its watchdog follows the demo).
  for (const run of runs.splice(0)) {
    if ((await statusOf(run)) === undefined && existsSync(join(run.dir, 'pid'))) {
      process.kill(await pidOf(run), 'SIGKILL');
      await waitFor(async () => (await statusOf(run)) !== undefined, 10_000, 'the server to be killed').catch(() => undefined);
    }
    await run.pane.close();
    await rm(run.dir, { recursive: true, force: true });
  }
});

describe('npm start in a terminal that is closed', () => {
  it('stops as Ctrl-C stops it, and exits 0', async () => {
    const run = await inTerminal([process.execPath, DEMO, '--embedded', '--listen', '127.0.0.1:0']);
    await waitFor(async () => /lit-streamd started/.test(await run.pane.capture({ history: true })), 30_000, 'the demo to start');
    await run.pane.hangUp();
    expect(await exitStatus(run, 'the demo to exit')).toBe('0');
  }, 90_000);
});

describe('lit-streamd on a terminal that is closed', () => {
  let sandbox: EmbeddedSystemd;
  beforeAll(async () => {
    sandbox = await EmbeddedSystemd.boot();
    await installUnits(sandbox);
  });
  afterAll(async () => {
    await sandbox?.shutdown();
  });

  it('serves on, its log lines going nowhere, and still stops on SIGTERM and exits 0', async () => {
    // In a session of its own, the terminal's hangup sends it no SIGHUP (as for `setsid
    // lit-streamd`): it serves on, and each log line it writes fails.
    const socket = join(tmpdir(), `lit-stream-closed-terminal-${process.pid}.sock`);
    const run = await inTerminal([process.execPath, LIT_STREAMD, '--listen', `unix:${socket}`, '--bus', sandbox.busAddress], { ownSession: true });
    const client = new StreamServiceClient(`unix:${socket}`, credentials.createInsecure());
    try {
      const list = () => rpc(client, client.listStreams, { team: 'contoso', pageSize: 0, pageToken: '' });
      await waitFor(() => list().then(() => true, () => false), 30_000, 'lit-streamd to serve');
      await run.pane.hangUp();
      // Served after the terminal went, its call's log line written to no one.
      expect((await list()).streams.length).toBeGreaterThan(0);
      process.kill(await pidOf(run), 'SIGTERM');
      expect(await exitStatus(run, 'lit-streamd to exit')).toBe('0');
    } finally {
      client.close();
      await rm(socket, { force: true });
    }
  }, 90_000);
});
