import type { CommandLine } from '../commandLine.js';
import type { Context } from '../context.js';
import { ExitCode } from '../exitCodes.js';
import { formatLogLine } from '../logView.js';
import { parseSince } from '../since.js';
import { parseStreamName } from '../streamName.js';
import { UsageError } from '../usageError.js';

/**
 * The server sends at most this many lines at once (LogsRequest.tail_lines); `-n all` asks for that.
 * clients/testdata/defaults.json holds it to the server's MAX_TAIL_LINES.
 */
export const SERVER_TAIL_CAP = 10_000;

/**
 * `logs TEAM/NAME [-n N] [-f] [--since TIME]`, as `journalctl -u UNIT` prints a unit's lines: the
 * client library's `logs()`. `-f` follows until Ctrl-C (exit 0), as `journalctl -f` does.
 */
export async function logs(context: Context, [argument]: readonly string[], options: CommandLine['logs']): Promise<ExitCode> {
  const name = parseStreamName(argument!);
  const tail = parseLineCount(options.lines);
  const since = options.since === undefined ? undefined : parseSince(options.since);
  const lines = context.stream(name.team, name.name).logs({ tail, follow: options.follow, since });

  const interrupted = () => process.exit(ExitCode.SUCCESS);
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  let printed = 0;
  try {
    for await (const line of lines) {
      if (context.json) context.outJson(line);
      else if (line.kind === 'dropped') context.out(context.paintOut('dim', line.message));
      else context.out(formatLogLine(line, name.name, context.paintOut));
      if (line.kind === 'line') printed++;
    }
  } finally {
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
  }
  // As journalctl says it, so that nothing printed is not mistaken for a hang or an error.
  if (printed === 0 && !context.json) context.out('-- No entries --');
  return ExitCode.SUCCESS;
}

/** `-n N` (journalctl's): a count of lines, or `all`. */
function parseLineCount(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (text === 'all') return SERVER_TAIL_CAP;
  if (!/^\d+$/.test(text)) throw new UsageError(`-n takes a number of lines or 'all', not '${text}'`);
  return Number(text);
}
