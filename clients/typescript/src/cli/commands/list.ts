import { getStreams, GrpcStatus, LitStreamError, type ServiceStatus } from '../../index.js';
import type { Context } from '../context.js';
import { ExitCode } from '../exitCodes.js';
import { mapLimited } from '../inOrder.js';
import { countLine, statusJson, statusTable } from '../statusView.js';

/** Well under the server's 64 unary calls in flight per caller (docs/security.md, "Limits"). */
const STATUS_CALLS_IN_FLIGHT = 16;

/** `list TEAM`: the team's streams (ListStreams), each with its status (GetStatus), as a table. */
export async function list(context: Context, [team]: readonly string[]): Promise<ExitCode> {
  const streams = await getStreams(team!, context.connection);
  const statuses = await mapLimited(streams, STATUS_CALLS_IN_FLIGHT, (stream) =>
    // No log lines: a table has no room for them, and each would be a journal read on the server.
    stream.status({ logLines: 0 }).catch((error: unknown) => {
      // Undeclared between the two calls: it is no longer one of the team's streams.
      if (error instanceof LitStreamError && error.code === GrpcStatus.NOT_FOUND) return undefined;
      throw error;
    }),
  );
  const found = statuses.filter((status): status is ServiceStatus => status !== undefined);
  if (context.json) {
    // details.logs left out: none were asked for, and [] would say the stream logged nothing.
    for (const { details: { logs: _none, ...details }, ...status } of found) context.outJson(statusJson({ ...status, details }));
    return ExitCode.SUCCESS;
  }
  if (found.length > 0) {
    for (const line of statusTable(found, new Date(), context.paintOut)) context.out(line);
    context.out('');
  }
  context.out(countLine(found.length, 'listed.'));
  return ExitCode.SUCCESS;
}
