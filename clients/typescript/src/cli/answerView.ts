import type { LogLine } from '../index.js';
import type { Context } from './context.js';
import { formatLogLine } from './logView.js';
import { visible } from './visible.js';

/** What an action's answer (Start, Stop, Restart, Enable, Disable) says, as a terminal shows it. */
export interface Answer {
  readonly status: 'SUCCESS' | 'FAILURE';
  readonly message: string;
  readonly logs: readonly LogLine[];
}

/**
 * An answer's sentence and, for a failure, the stream's lines: on stdout when it succeeded, on
 * stderr as systemctl reports a failed job. The sentence may quote the worker's last line (a
 * failed start's `last log: "…"`, JSON-quoted by the server, which leaves C1 controls and bidi
 * overrides as they are): shown escaped, as the lines are.
 */
export function reportAnswer(context: Context, stream: string, name: string, { status, message, logs }: Answer): void {
  if (status === 'SUCCESS') return context.out(`${stream}: ${visible(message)}`);
  context.err(context.paintErr('bad', `${stream}: ${visible(message)}`));
  for (const line of logs) context.err(`  ${formatLogLine(line, name, context.paintErr)}`);
}
