import { type EnableOutcome, Stream } from '../../index.js';
import { reportAnswer } from '../answerView.js';
import type { Context } from '../context.js';
import { ExitCode, exitCodeForError, firstFailure } from '../exitCodes.js';
import { inOrder } from '../inOrder.js';
import { type Outcome, outcome } from '../outcome.js';
import { formatStreamName, parseStreamName, type StreamName } from '../streamName.js';

/**
 * `enable|disable [--now] TEAM/NAME…`, as `systemctl enable|disable [--now]`: every stream at once,
 * each answer printed in the order the streams were named, with the symlinks systemd created or
 * removed, worded as systemctl prints them.
 */
export async function enablement(context: Context, verb: 'enable' | 'disable', args: readonly string[], now: boolean): Promise<ExitCode> {
  const names = args.map(parseStreamName);
  const results = await inOrder(
    names.map((name) => () => {
      const stream = new Stream(name.team, name.name, context.connection);
      return outcome(verb === 'enable' ? stream.enable({ now }) : stream.disable({ now }));
    }),
    (result, index) => report(context, verb, now, names[index]!, result),
  );
  return firstFailure(
    results.map((result) =>
      'error' in result ? exitCodeForError(result.error, 'action', context.connected) : result.value.status === 'SUCCESS' ? ExitCode.SUCCESS : ExitCode.FAILURE,
    ),
  );
}

/** systemctl's lines for a change: `Created symlink A → B.`, `Removed "A".` */
export function changeLine({ type, path, destination }: EnableOutcome['changes'][number]): string {
  return type === 'symlink' ? `Created symlink ${path} → ${destination}.` : `Removed "${path}".`;
}

function report(context: Context, verb: 'enable' | 'disable', now: boolean, name: StreamName, result: Outcome<EnableOutcome>): void {
  const stream = formatStreamName(name);
  if ('error' in result) return context.reportError(stream, result.error);
  const { status, message, changes, unitFileState, jobResult, logs } = result.value;
  if (context.json) {
    const started = now ? { jobResult, ...(status === 'FAILURE' ? { logs } : {}) } : {};
    return context.outJson({ team: name.team, name: name.name, action: verb, status, message, changes, unitFileState, ...started });
  }
  for (const change of changes) context.out(changeLine(change));
  reportAnswer(context, stream, name.name, { status, message, logs });
}
