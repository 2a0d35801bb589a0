import type { Context } from '../context.js';
import { ExitCode } from '../exitCodes.js';
import { runsTable } from '../runView.js';
import { parseStreamName } from '../streamName.js';

/**
 * `runs TEAM/NAME`: the stream's recent runs, newest first, as a table with the last line of each
 * (what explains a crash loop); with -o json, one line per run as the client library's runs()
 * gives it.
 */
export async function runs(context: Context, [argument]: readonly string[]): Promise<ExitCode> {
  const name = parseStreamName(argument!);
  const list = await context.stream(name.team, name.name).runs();
  if (context.json) {
    for (const run of list) context.outJson(run);
  } else if (list.length === 0) {
    context.out('-- No runs --');
  } else {
    for (const line of runsTable(list, context.paintOut)) context.out(line);
  }
  return ExitCode.SUCCESS;
}
