import type { Context } from '../context.js';
import { ExitCode, exitCodeForError, firstFailure } from '../exitCodes.js';
import { inOrder } from '../inOrder.js';
import { outcome } from '../outcome.js';
import { isRunning, logExcerpt, statusBlock, statusJson } from '../statusView.js';
import { formatStreamName, parseStreamName } from '../streamName.js';

/** `status TEAM/NAME…`: each stream as systemctl status lays out a unit; 0 running, 3 not, 4 unknown. */
export async function status(context: Context, args: readonly string[]): Promise<ExitCode> {
  const names = args.map(parseStreamName);
  let blocks = 0;
  const results = await inOrder(
    names.map((name) => () => outcome(context.stream(name.team, name.name).status())),
    (result, index) => {
      if ('error' in result) return context.reportError(formatStreamName(names[index]!), result.error);
      if (context.json) return context.outJson(statusJson(result.value));
      // A blank line between streams, as systemctl separates units.
      if (blocks++ > 0) context.out('');
      for (const line of statusBlock(result.value, new Date(), context.paintOut)) context.out(line);
      for (const line of logExcerpt(result.value, context.paintOut)) context.out(line);
    },
  );
  return firstFailure(
    results.map((result) =>
      'error' in result ? exitCodeForError(result.error, 'query', context.connected) : isRunning(result.value) ? ExitCode.SUCCESS : ExitCode.NOT_RUNNING,
    ),
  );
}
