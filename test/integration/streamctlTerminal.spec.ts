import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { closeSharedClients, Stream } from '../../clients/typescript/src/index.js';
import { STREAMCTL, streamctl, userEnv } from '../support/streamctl.js';
import { TmuxPane } from '../support/tmux.js';
import { FIXTURE_UNITS, type Harness, startHarness, waitFor } from './harness.js';

/**
 * lit-streamctl on a terminal, driven in a pseudo-terminal (tmux) against the real server on the
 * embedded systemd: the spinner while systemd works, the live table of `watch` redrawn in place,
 * colours on a terminal and none with NO_COLOR.
 */

let h: Harness;
let env: NodeJS.ProcessEnv;
const panes: TmuxPane[] = [];
/**
 * A worker whose lines try to act on the operator's terminal: clear it, retitle its window (OSC 0),
 * ring the bell, colour text, an 8-bit CSI (U+009B), a line reversed by a bidi override, and a
 * carriage return that would start a line looking like systemd's over its own.
 */
const HOSTILE_LINES = [
  'start',
  'clear\x1b[2J\x1b[Hed',
  '\x1b]0;pwned\x07title',
  'bell\x07',
  '\x1b[31mred\x1b[0m',
  'csi\u009bJc1',
  'bidi\u202edesrever',
  'fake\rNov 25 00:00:00 systemd[1]: Started innocent.service.',
  'end',
];
const HOSTILE = 'lit-stream-acme@hostile.service';
/**
 * A worker that writes the same lines, then one whose controls JSON leaves as they are (an 8-bit
 * CSI, a bidi override), and fails at once; it can be enabled. A failed start's answer quotes its
 * last line.
 */
const HOSTILE_FAILS = 'lit-stream-acme@hostilefails.service';

/**
 * `printf` of these lines in a unit file: every byte but letters, digits and a few marks as an
 * octal escape, its backslash doubled (systemd unescapes ExecStart= once, printf once more).
 */
function printfLines(lines: readonly string[]): string {
  const bytes = Buffer.from(lines.map((line) => `${line}\n`).join(''), 'utf8');
  return `printf "${[...bytes].map((byte) => (/[A-Za-z0-9 .:;[\]]/.test(String.fromCharCode(byte)) ? String.fromCharCode(byte) : `\\\\${byte.toString(8).padStart(3, '0')}`)).join('')}"`;
}

beforeAll(async () => {
  h = await startHarness({
    ...FIXTURE_UNITS,
    [HOSTILE]: `[Service]\nType=exec\nExecStart=/bin/sh -c '${printfLines(HOSTILE_LINES)}; exec sleep infinity'\n`,
    [HOSTILE_FAILS]: `[Service]\nType=oneshot\nExecStart=/bin/sh -c '${printfLines([...HOSTILE_LINES, 'last csi\u009bJc1 bidi\u202edesrever'])}; sleep 1; exit 3'\n[Install]\nWantedBy=default.target\n`,
  });
  env = userEnv({ LIT_STREAM_ADDR: h.address, LANG: 'C.UTF-8' });
});
afterEach(async () => {
  await Promise.all(panes.splice(0).map((pane) => pane.close()));
});
afterAll(async () => {
  closeSharedClients();
  await h?.stop();
});

async function inTerminal(args: string[], extraEnv: Record<string, string> = {}): Promise<TmuxPane> {
  const pane = await TmuxPane.start([process.execPath, STREAMCTL, ...args], { ...env, ...extraEnv });
  panes.push(pane);
  return pane;
}

async function exited(pane: TmuxPane): Promise<number> {
  let status: number | undefined;
  await waitFor(async () => (status = await pane.exitStatus()) !== undefined, 20_000, 'lit-streamctl to exit');
  return status!;
}

/** The lines a pane shows (and showed), without the blank rows below and tmux's "Pane is dead" note. */
async function written(pane: TmuxPane): Promise<string[]> {
  const text = await pane.capture({ history: true });
  return text.split('\n').filter((line) => line.trim() !== '' && !line.startsWith('Pane is dead'));
}

/** Puts a stream in a known state through the server, as another client would. */
async function action(method: 'start' | 'stop', name: string): Promise<void> {
  await new Stream('contoso', name, { address: h.address })[method]();
}

const SPINNER = /[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]/;
const SGR = /\x1b\[[0-9;]*m/;

describe('start on a terminal', () => {
  it('shows a spinner naming the streams systemd still works on, and clears it when done', async () => {
    await action('stop', 'slow');
    await action('stop', 'bitcoin');
    // slow's start takes 2 s (ExecStartPre=sleep 2): the spinner has time to be seen.
    const pane = await inTerminal(['start', 'contoso/slow', 'contoso/bitcoin']);
    await waitFor(async () => /^[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] starting contoso\/slow(, contoso\/bitcoin)?…$/m.test(await pane.capture()), 15_000, 'the spinner');
    expect(await exited(pane)).toBe(0);
    const lines = await written(pane);
    expect(lines).toEqual(['contoso/slow: Stream started successfully.', 'contoso/bitcoin: Stream started successfully.']);
    expect(lines.join('\n')).not.toMatch(SPINNER);
  });
});

describe('watch on a terminal', () => {
  it('redraws one table in place as states change, and leaves it on Ctrl-C', async () => {
    await action('stop', 'bitcoin');
    const pane = await inTerminal(['watch', 'contoso']);
    await waitFor(async () => /^ {2}bitcoin +\S+ +enabled +inactive +dead/m.test(await pane.capture()), 15_000, 'the table');
    expect(await pane.capture()).toMatch(/^5 streams of team contoso, watching \(Ctrl-C to stop\)$/m);

    await action('start', 'bitcoin');
    const pid = (await h.unitState('lit-stream-contoso@bitcoin.service')).MainPID;
    await waitFor(async () => new RegExp(`^ {2}bitcoin +loaded +enabled +active +running +\\S+ +${pid}$`, 'm').test(await pane.capture()), 15_000, 'bitcoin running');

    // In place: after the first drawing and every change since (stopping, starting, running), the
    // terminal holds one table, history included — nothing was appended below an old one.
    const lines = await written(pane);
    expect(lines.filter((line) => /^\s+NAME\s+LOAD\s+ENABLED\s+ACTIVE/.test(line))).toHaveLength(1);
    expect(lines.filter((line) => /^ {2}bitcoin /.test(line))).toHaveLength(1);
    expect(lines.filter((line) => line.includes('streams of team contoso'))).toHaveLength(1);

    await pane.sendKeys('C-c');
    expect(await exited(pane)).toBe(0);
    expect((await written(pane)).filter((line) => /^ {2}bitcoin +loaded +enabled +active +running/.test(line))).toHaveLength(1);
  });
});

describe('colours', () => {
  it('on a terminal: the state glyph and ACTIVE coloured; with NO_COLOR: none at all', async () => {
    await action('start', 'bitcoin');
    const coloured = await inTerminal(['status', 'contoso/bitcoin']);
    expect(await exited(coloured)).toBe(0);
    const withColour = await coloured.capture({ history: true, escapes: true });
    expect(withColour).toMatch(SGR);
    expect(withColour).toMatch(/\x1b\[[0-9;]*32[0-9;]*m●/); // ● in green: running

    const plainStatus = await inTerminal(['status', 'contoso/bitcoin'], { NO_COLOR: '1' });
    const plainList = await inTerminal(['list', 'contoso'], { NO_COLOR: '1' });
    expect(await exited(plainStatus)).toBe(0);
    expect(await exited(plainList)).toBe(0);
    expect(await plainStatus.capture({ history: true, escapes: true })).not.toMatch(SGR);
    expect(await plainList.capture({ history: true, escapes: true })).not.toMatch(SGR);
    expect(await plainStatus.capture({ history: true })).toMatch(/^● contoso\/bitcoin$/m);
  });

  it('logs: priorities coloured as journalctl colours them (errors red); with NO_COLOR: none', async () => {
    await new Stream('contoso', 'crash', { address: h.address }).start(); // FAILURE: lines of every priority
    const RED = /\x1b\[(\d+;)*31(;\d+)*m/;
    let coloured!: string;
    // journald files the lines asynchronously: wait for systemd's error line rather than assume it.
    await waitFor(async () => {
      const pane = await inTerminal(['logs', '-n', '20', 'contoso/crash']);
      await exited(pane);
      coloured = await pane.capture({ history: true, escapes: true });
      return coloured.includes('Failed to start');
    }, 20_000, "systemd's 'Failed to start' line");
    const failedLine = coloured.split('\n').find((line) => line.includes('Failed to start'))!;
    expect(failedLine).toMatch(RED); // priority 3 (err)
    const plain = await inTerminal(['logs', '-n', '20', 'contoso/crash'], { NO_COLOR: '1' });
    expect(await exited(plain)).toBe(0);
    expect(await plain.capture({ history: true, escapes: true })).not.toMatch(SGR);
  });
});

describe("a worker's control characters", () => {
  it('are shown as visible escapes on the terminal, which they neither clear, retitle nor colour; -o json carries them exactly', async () => {
    await new Stream('acme', 'hostile', { address: h.address }).start();
    let screen = '';
    await waitFor(async () => {
      const pane = await inTerminal(['logs', '-n', '20', 'acme/hostile'], { NO_COLOR: '1' });
      await exited(pane);
      screen = await pane.capture({ history: true, escapes: true });
      return /hostile\[\d+\]: end$/m.test(screen) && (await pane.title()) !== 'pwned';
    }, 20_000, 'the last line of the hostile worker, and no title set');
    const lines = screen.split('\n');
    const shown = (text: string) => lines.find((line) => line.includes(text)) ?? '';
    // Nothing cleared: the first line is still there, above the rest.
    expect(shown('hostile[')).toMatch(/: start$/);
    expect(shown('clear')).toMatch(/: clear\\x1b\[2J\\x1b\[Hed$/);
    expect(shown('title')).toMatch(/: \\x1b\]0;pwned\\atitle$/);
    expect(shown('bell')).toMatch(/: bell\\a$/);
    expect(shown('red')).toMatch(/: \\x1b\[31mred\\x1b\[0m$/);
    expect(shown('c1')).toMatch(/: csi\\u\{9b\}Jc1$/);
    expect(shown('desrever')).toMatch(/: bidi\\u\{202e\}desrever$/);
    expect(shown('fake')).toMatch(/: fake\\rNov 25 00:00:00 systemd\[1\]: Started innocent\.service\.$/);
    // No SGR reached the terminal (NO_COLOR: lit-streamctl itself paints nothing).
    expect(screen).not.toMatch(SGR);
    expect(lines.filter((line) => /^\S+ \d+ [\d:]+ systemd\[1\]: Started innocent/.test(line))).toEqual([]);

    // For programs, on a pipe: the exact text.
    const json = await streamctl(['logs', '-o', 'json', '-n', '20', 'acme/hostile'], env);
    expect(json.code).toBe(0);
    const objects = json.stdout
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { message: string });
    expect(objects.map((o) => o.message)).toEqual(expect.arrayContaining(['clear\x1b[2J\x1b[Hed', '\x1b]0;pwned\x07title', 'csi\u009bJc1', 'bidi\u202edesrever']));
  });

  it("are escaped where a failed start's answer quotes the worker's last line: start, restart, enable --now", async () => {
    for (const args of [['start'], ['restart'], ['enable', '--now']]) {
      // An answer that quotes the line: journald files a line under the worker's unit only while the
      // writer still runs, and under load the worker may be gone first (then there is no quote).
      let run = { code: 0, stdout: '', stderr: '' };
      await waitFor(async () => /last log: "last/.test((run = await streamctl([...args, 'acme/hostilefails'], { ...env, NO_COLOR: '1' })).stderr), 20_000, `${args.join(' ')} to quote the last line`);
      expect(run.code, args.join(' ')).toBe(1);
      // The answer quotes the worker's last line, escaped.
      expect(run.stderr, args.join(' ')).toMatch(/acme\/hostilefails: .*last log: "last csi\\u\{9b\}Jc1 bidi\\u\{202e\}desrever"/);
      // Not one of the worker's control characters reached the output.
      expect(run.stdout + run.stderr, args.join(' ')).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f\u202e]/);
    }
  }, 90_000);
});
