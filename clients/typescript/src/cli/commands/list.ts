import { GrpcStatus, LitStreamError, listStreams, type ServiceStatus } from '../../index.js';
import type { Context } from '../context.js';
import { ExitCode } from '../exitCodes.js';
import { mapLimited } from '../inOrder.js';
import { countLine, hostErrorLines, statusJson, statusTable } from '../statusView.js';

/** Well under the server's 64 unary calls in flight per caller (README, "Limits"). */
const STATUS_CALLS_IN_FLIGHT = 16;

/**
 * `list TEAM`: the team's streams (ListStreams), each with its status (GetStatus), as a table. A
 * fleet's streams get a HOST column, and the hosts that did not answer are listed under the table
 * with a warning: exit 0 when some streams were listed, 69 when none was.
 */
export async function list(context: Context, [team]: readonly string[]): Promise<ExitCode> {
  const { streams, hostErrors } = await listStreams(team!, { ...context.connection, ...(context.host ? { host: context.host } : {}) });
  const statuses = await mapLimited(streams, STATUS_CALLS_IN_FLIGHT, (stream) =>
    // No log lines: a table has no room for them, and each would be a journal read on the server.
    stream.status({ logLines: 0 }).catch((error: unknown) => {
      // Undeclared between the two calls: it is no longer one of the team's streams.
      if (error instanceof LitStreamError && error.code === GrpcStatus.NOT_FOUND) return undefined;
      throw error;
    }),
  );
  const found = statuses.filter((status): status is ServiceStatus => status !== undefined);
  // Nothing listed and hosts missing: as good as lit-streamd out of reach.
  const exitCode = hostErrors.length > 0 && streams.length === 0 ? ExitCode.UNAVAILABLE : ExitCode.SUCCESS;
  if (context.json) {
    // details.logs left out: none were asked for, and [] would say the stream logged nothing.
    for (const { details: { logs: _none, ...details }, ...status } of found) context.outJson(statusJson({ ...status, details }));
    for (const { host, error } of hostErrors) context.outJson({ hostError: { host, code: error.codeName, message: error.details } });
    return exitCode;
  }
  if (found.length > 0) {
    const fleet = streams.some((stream) => stream.host !== undefined);
    for (const line of statusTable(found, new Date(), context.paintOut, true, fleet)) context.out(line);
    context.out('');
  }
  context.out(countLine(found.length, 'listed.'));
  if (hostErrors.length > 0) {
    const hosts = hostErrors.length === 1 ? '1 host' : `${hostErrors.length} hosts`;
    context.err(context.paintErr('warn', `lit-streamctl: warning: ${hosts} did not answer; their streams are not listed:`));
    for (const line of hostErrorLines(hostErrors)) context.err(context.paintErr('warn', line));
  }
  return exitCode;
}
