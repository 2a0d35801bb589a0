import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * A command in a pseudo-terminal of its own: a private tmux server (its own socket and
 * configuration, none of the user's) running one pane of a fixed size. tmux keeps the pane after
 * the command exits (remain-on-exit) so its last screen can be read, and does not move a screen
 * cleared from the top into its history (scroll-on-clear off), so the history holds exactly what
 * scrolled off. The exit status is written to a file by a wrapping shell: tmux 3.3's
 * `#{pane_dead_status}` is sometimes left empty for a pane that has exited.
 */
export class TmuxPane {
  private constructor(
    private readonly directory: string,
    private readonly socket: string,
  ) {}

  /** Runs `argv` (quoted for tmux's shell) with exactly `env`, in a `width`×`height` terminal. */
  static async start(argv: readonly string[], env: NodeJS.ProcessEnv, width = 100, height = 30): Promise<TmuxPane> {
    const directory = await mkdtemp(join(tmpdir(), 'lit-stream-tmux-'));
    const config = join(directory, 'tmux.conf');
    await writeFile(config, 'set -g remain-on-exit on\nset -g scroll-on-clear off\nset -g history-limit 5000\n');
    const pane = new TmuxPane(directory, join(directory, 'socket'));
    const quote = (arg: string) => `'${arg.replaceAll("'", `'\\''`)}'`;
    // The shell traps SIGINT (Ctrl-C reaches the whole foreground group) so it lives to write the
    // status; the command itself gets SIGINT with its default disposition (traps reset on exec).
    const command = `trap : INT; ${argv.map(quote).join(' ')}; echo $? > ${quote(join(directory, 'status'))}`;
    // -u: UTF-8 whatever the locale; the server (and so the pane) gets `env` and nothing else.
    await run('tmux', ['-u', '-f', config, '-S', pane.socket, 'new-session', '-d', '-x', String(width), '-y', String(height), command], {
      env,
    });
    return pane;
  }

  /** The screen as text; with `history`, what scrolled off above it too; with `escapes`, the SGR attributes. */
  async capture(options: { history?: boolean; escapes?: boolean } = {}): Promise<string> {
    const args = ['capture-pane', '-p', ...(options.history ? ['-S', '-'] : []), ...(options.escapes ? ['-e'] : [])];
    return (await this.tmux(args)).stdout;
  }

  /** The command's exit status once it has exited; undefined while it runs. */
  async exitStatus(): Promise<number | undefined> {
    const status = await readFile(join(this.directory, 'status'), 'utf8').catch(() => '');
    return status.endsWith('\n') ? Number(status) : undefined;
  }

  /** The pane's title, as the command's escape sequences (OSC 0/2) may have set it. */
  async title(): Promise<string> {
    return (await this.tmux(['display-message', '-p', '#{pane_title}'])).stdout.trimEnd();
  }

  async sendKeys(...keys: string[]): Promise<void> {
    await this.tmux(['send-keys', ...keys]);
  }

  /**
   * Closes the terminal, as closing its window does: tmux ends, and the kernel hangs the terminal
   * up (SIGHUP to the pane's shell, then to the command; EIO for every later write to it).
   */
  async hangUp(): Promise<void> {
    await this.tmux(['kill-server']);
  }

  /** Ends the tmux server (and the command, if it still runs) and removes its directory. */
  async close(): Promise<void> {
    await this.tmux(['kill-server']).catch(() => undefined);
    await rm(this.directory, { recursive: true, force: true });
  }

  private tmux(args: string[]): Promise<{ stdout: string }> {
    return run('tmux', ['-S', this.socket, ...args]);
  }
}
