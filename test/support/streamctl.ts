import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';

/** lit-streamctl as a user runs it: the client package's bin, built by `npm run build` (pretest). */
export const STREAMCTL = resolve('clients/typescript/bin/lit-streamctl.js');
/** The same command as the server package ships it, compiled into the server's dist/clients/. */
export const SERVER_STREAMCTL = resolve('bin/lit-streamctl.js');

/** The environment of a user's shell: none of this test run's LIT_STREAM_* or colour settings. */
export function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('LIT_STREAM_') && !['NO_COLOR', 'FORCE_COLOR'].includes(name)),
  );
  return { ...env, ...extra };
}

export interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs lit-streamctl with stdout and stderr on pipes, to the end. */
export function streamctl(args: readonly string[], env: NodeJS.ProcessEnv, bin = STREAMCTL): Promise<Run> {
  return new Promise((done, fail) => {
    execFile(process.execPath, [bin, ...args], { env, timeout: 30_000 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') return fail(new Error(`lit-streamctl could not run: ${error.message}`, { cause: error }));
      done({ code: error ? (error.code as number) : 0, stdout, stderr });
    });
  });
}

/** A long-running lit-streamctl (watch), its stdout collected line by line. */
export interface Running {
  readonly child: ChildProcess;
  readonly lines: string[];
  readonly stderr: () => string;
  /** Resolves with the exit code. */
  readonly exited: Promise<number | null>;
}

export function spawnStreamctl(args: readonly string[], env: NodeJS.ProcessEnv): Running {
  const child = spawn(process.execPath, [STREAMCTL, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let stderr = '';
  createInterface({ input: child.stdout }).on('line', (line) => lines.push(line));
  child.stderr.on('data', (chunk) => (stderr += String(chunk)));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, lines, stderr: () => stderr, exited };
}
