import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { streamctl, userEnv } from '../support/streamctl.js';
import { TmuxPane } from '../support/tmux.js';
import { waitFor } from './harness.js';

/**
 * `npm start` as a user runs it (the built demo, on an embedded systemd): someone at a terminal
 * reads pino-pretty's log lines; a pipe, as a log shipper or a test reads it, gets JSON lines.
 */

const DEMO = resolve('dist/src/daemon/demo.js');
/** Port 0: a free port, so the spec never meets another server on the default address. */
const ARGS = [DEMO, '--embedded', '--listen', '127.0.0.1:0'];

const panes: TmuxPane[] = [];
const children: ChildProcess[] = [];
afterEach(async () => {
  // Ctrl-C or SIGTERM stops the demo and its embedded systemd; a spec that failed before that
  // still leaves nothing running (closing the pane stops it too: closedTerminal.spec.ts).
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  await Promise.all(
    panes.splice(0).map(async (pane) => {
      if ((await pane.exitStatus()) === undefined) {
        await pane.sendKeys('C-c');
        await waitFor(async () => (await pane.exitStatus()) !== undefined, 30_000, 'the demo to exit').catch(() => undefined);
      }
      await pane.close();
    }),
  );
});

describe('npm start on a terminal', () => {
  it('prints log lines for people, no JSON, and stops on Ctrl-C', async () => {
    const pane = await TmuxPane.start([process.execPath, ...ARGS], userEnv({ LANG: 'C.UTF-8', NO_COLOR: '1' }), 120, 50);
    panes.push(pane);
    const shown = () => pane.capture({ history: true });
    await waitFor(async () => /lit-streamd started/.test(await shown()), 30_000, 'the demo to start');
    const started = await shown();
    expect(started).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO \(lit-streamd\): lit-streamd started$/m);
    // Fields go on lines of their own below the message.
    expect(started).toMatch(/^ {4}listen: "127\.0\.0\.1:\d+"$/m);
    expect(started).not.toMatch(/"level":/);

    await pane.sendKeys('C-c');
    await waitFor(async () => (await pane.exitStatus()) !== undefined, 30_000, 'the demo to exit');
    expect(await pane.exitStatus()).toBe(0);
    expect(await shown()).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO \(lit-streamd\): stopped$/m);
  });
});

describe('npm start on a pipe', () => {
  it('prints JSON lines, as lit-streamd always does', async () => {
    const child = spawn(process.execPath, ARGS, { env: userEnv(), stdio: ['ignore', 'pipe', 'ignore'] });
    children.push(child);
    const lines: string[] = [];
    createInterface({ input: child.stdout }).on('line', (line) => lines.push(line));
    const messages = () => lines.map((line) => (JSON.parse(line) as { msg?: string }).msg);
    await waitFor(() => messages().includes('lit-streamd started'), 30_000, 'the demo to start');

    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    expect(await exited).toEqual([0, null]);
    // Every line is JSON (parsing would have thrown), the last one says the server stopped.
    expect(messages().at(-1)).toBe('stopped');
    expect(JSON.parse(lines.find((line) => line.includes('lit-streamd started'))!)).toMatchObject({ level: 30, name: 'lit-streamd', listen: expect.stringMatching(/^127\.0\.0\.1:\d+$/) });
  });
});

describe("the README's quick start, on the demo", () => {
  it('lit-streamctl enable --now contoso/bitcoin starts it and makes it start at boot', async () => {
    const child = spawn(process.execPath, ARGS, { env: userEnv(), stdio: ['ignore', 'pipe', 'ignore'] });
    children.push(child);
    const lines: string[] = [];
    createInterface({ input: child.stdout }).on('line', (line) => lines.push(line));
    const started = () => lines.map((line) => JSON.parse(line) as { msg?: string; listen?: string }).find((line) => line.msg === 'lit-streamd started');
    await waitFor(() => started() !== undefined, 30_000, 'the demo to start');
    const env = userEnv({ LIT_STREAM_ADDR: started()!.listen! });

    const enabled = await streamctl(['enable', '--now', 'contoso/bitcoin'], env);
    expect(enabled.stderr).toBe('');
    expect(enabled.stdout).toMatch(/^Created symlink \/\S+\/default\.target\.wants\/lit-stream-contoso@bitcoin\.service → \/\S+\/lit-stream-contoso@\.service\.$/m);
    expect(enabled.stdout).toMatch(/^contoso\/bitcoin: Stream enabled\. Stream started successfully\.$/m);
    expect(enabled.code).toBe(0);
    const listed = await streamctl(['list', 'contoso'], env);
    expect(listed.stdout).toMatch(/^ {2}bitcoin +loaded +enabled +active +running /m);

    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    expect(await exited).toEqual([0, null]);
  });
});
