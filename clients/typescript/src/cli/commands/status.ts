import type { StreamRun } from '../../index.js';
import type { Context } from '../context.js';
import { ExitCode, exitCodeForError, firstFailure } from '../exitCodes.js';
import { inOrder } from '../inOrder.js';
import { outcome } from '../outcome.js';
import { runsTable } from '../runView.js';
import { isRunning, logExcerpt, statusBlock, statusJson } from '../statusView.js';
import { formatStreamName, parseStreamName } from '../streamName.js';

/** Runs the "Last runs:" block shows. */
const LAST_RUNS = 3;

/**
 * `status TEAM/NAME…`: each stream as systemctl status lays out a unit; 0 running, 3 not, 4 unknown.
 * A stream systemd restarted since it was last started by hand gets a "Last runs:" block: how each
 * of its last runs ended, and its last line.
 */
export async function status(context: Context, args: readonly string[]): Promise<ExitCode> {
  const names = args.map(parseStreamName);
  let blocks = 0;
  const recentRuns = new Map<number, readonly StreamRun[]>();
  const results = await inOrder(
    names.map((name, index) => async () => {
      const stream = context.stream(name.team, name.name);
      const answer = await outcome(stream.status());
      // systemd restarted it since it was last started by hand: say how each of its last runs ended.
      if (!context.json && 'value' in answer && answer.value.details.restartCount > 0) {
        const runs = await outcome(stream.runs({ limit: LAST_RUNS }));
        // Without the logs role (or a journal) the status stands alone.
        if ('value' in runs && runs.value.length > 0) recentRuns.set(index, runs.value);
      }
      return answer;
    }),
    (result, index) => {
      if ('error' in result) return context.reportError(formatStreamName(names[index]!), result.error);
      if (context.json) return context.outJson(statusJson(result.value));
      // A blank line between streams, as systemctl separates units.
      if (blocks++ > 0) context.out('');
      for (const line of statusBlock(result.value, new Date(), context.paintOut)) context.out(line);
      const runs = recentRuns.get(index);
      if (runs) {
        context.out('');
        context.out('Last runs:');
        for (const line of runsTable(runs, context.paintOut)) context.out(`  ${line}`);
      }
      for (const line of logExcerpt(result.value, context.paintOut)) context.out(line);
    },
  );
  return firstFailure(
    results.map((result) =>
      'error' in result ? exitCodeForError(result.error, 'query', context.connected) : isRunning(result.value) ? ExitCode.SUCCESS : ExitCode.NOT_RUNNING,
    ),
  );
}
