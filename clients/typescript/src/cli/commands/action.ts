import { type ActionOutcome, Stream } from '../../index.js';
import { reportAnswer } from '../answerView.js';
import type { Context } from '../context.js';
import { ExitCode, exitCodeForError, firstFailure } from '../exitCodes.js';
import { inOrder } from '../inOrder.js';
import { type Outcome, outcome } from '../outcome.js';
import { formatStreamName, parseStreamName, type StreamName } from '../streamName.js';
import { Spinner } from '../terminal.js';

export type Action = 'start' | 'stop' | 'restart';

const VERB_ING: Record<Action, string> = { start: 'starting', stop: 'stopping', restart: 'restarting' };

/**
 * `start|stop|restart TEAM/NAME…`: every stream at once (the server runs one job per stream, in
 * arrival order), each answer printed in the order the streams were named. A spinner on stderr
 * while systemd works, when stderr is a terminal.
 */
export async function action(context: Context, verb: Action, args: readonly string[]): Promise<ExitCode> {
  const names = args.map(parseStreamName);
  const pending = new Set(names.map(formatStreamName));
  const spinner = context.io.stderr.isTTY ? new Spinner(context.io.stderr, () => (pending.size > 0 ? `${VERB_ING[verb]} ${[...pending].join(', ')}…` : undefined)) : undefined;
  const print = (write: () => void) => (spinner ? spinner.print(write) : write());

  const stopSpinnerOnInterrupt = () => {
    spinner?.stop();
    // The jobs go on in systemd; only the wait for them ends. 130: ended by SIGINT, as a shell reports it.
    process.exit(130);
  };
  process.once('SIGINT', stopSpinnerOnInterrupt);
  spinner?.start();
  try {
    const results = await inOrder(
      names.map((name) => async () => {
        const stream = context.stream(name.team, name.name);
        const result = await outcome(stream.act(verb));
        pending.delete(formatStreamName(name));
        return 'value' in result ? { value: await withStopLines(stream, result.value) } : result;
      }),
      (result, index) => print(() => report(context, verb, names[index]!, result)),
    );
    return firstFailure(
      results.map((result) =>
        'error' in result ? exitCodeForError(result.error, 'action', context.connected) : result.value.status === 'SUCCESS' ? ExitCode.SUCCESS : ExitCode.FAILURE,
      ),
    );
  } finally {
    spinner?.stop();
    process.off('SIGINT', stopSpinnerOnInterrupt);
  }
}

/**
 * A Start's or Restart's answer carries the lines of that start; a Stop's carries none, so a failed
 * Stop (e.g. `timeout`: the worker ignored SIGTERM) gets the lines since the stream last started,
 * as `status()` reports them.
 */
async function withStopLines(stream: Stream, answer: ActionOutcome): Promise<ActionOutcome> {
  if (answer.status === 'SUCCESS' || answer.logs.length > 0) return answer;
  const status = await outcome(stream.status());
  return 'value' in status ? { ...answer, logs: status.value.details.logs ?? [] } : answer;
}

/** An action's answer; a failure with the stream's lines since this start began, as the server sent them. */
function report(context: Context, verb: Action, name: StreamName, result: Outcome<ActionOutcome>): void {
  const stream = formatStreamName(name);
  if ('error' in result) return context.reportError(stream, result.error);
  const { status, message, logs } = result.value;
  if (context.json) {
    return context.outJson({ team: name.team, name: name.name, action: verb, status, message, ...(status === 'FAILURE' ? { logs } : {}) });
  }
  reportAnswer(context, stream, name.name, { status, message, logs });
}
