import { pino } from 'pino';
import pinoPretty from 'pino-pretty';

/** How long the last log lines may take to be written at exit. */
const LOG_FLUSH_GRACE_MS = 2_000;

/** Where lit-streamd's log lines go: stdout, as JSON lines or (for people) as pino-pretty's. */
export interface LogOutput {
  /** What pino writes to. */
  readonly stream: pino.DestinationStream;
  /**
   * Writes out what is buffered and closes stdout, then resolves; at once if stdout is gone, and
   * within LOG_FLUSH_GRACE_MS whatever happens. Never rejects. Exiting without this runs pino's
   * synchronous flush at exit, which retries an EPIPE for ever (sonic-boom's flushSync retries
   * every error), so a SIGTERM never ended a server whose log reader had gone away.
   */
  close(): Promise<void>;
}

type StdoutDestination = ReturnType<typeof pino.destination> & { gone?: boolean };

/**
 * stdout through pino's own asynchronous destination. JSON lines, one per entry, for journald,
 * log shippers and tests; with `pretty`, pino-pretty's lines for someone reading a terminal
 * (`[12:00:00.000] INFO (lit-streamd): lit-streamd started` and the fields indented below), in
 * colour unless NO_COLOR is set. pino-pretty runs in this process as a stream in front of the
 * same destination (not as a transport in a worker thread), so the end of stdout and the flush at
 * exit are handled alike either way.
 */
export function stdoutLog({ pretty = false }: { pretty?: boolean } = {}): LogOutput {
  const destination: StdoutDestination = pino.destination({ dest: 1, sync: false });
  // EPIPE: nobody reads stdout any more (`lit-streamd | head`); pino stops writing to it then.
  // Any other error (EIO: the terminal was closed) ends it the same way, as pino ends it on EPIPE
  // (pino/lib/tools.js, filterBrokenPipe): later lines are dropped, and so is what is buffered,
  // which pino's flush at exit would otherwise retry for ever (sonic-boom's flushSync retries every
  // error but EAGAIN): SIGTERM never ended a server whose terminal had been closed.
  destination.on('error', () => {
    destination.gone = true;
    destination.write = () => true;
    destination.flushSync = () => undefined;
  });
  if (!pretty) return { stream: destination, close: () => closeLog(destination, destination) };
  const prettified = pinoPretty({ destination, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' });
  // Its pipeline to the destination ends on the destination's error; the stream says so too.
  prettified.on('error', () => (destination.gone = true));
  return { stream: prettified, close: () => closeLog(prettified, destination) };
}

/** Ends `head` (which ends the destination after its last line) and waits for the destination. */
function closeLog(head: { end(): void }, destination: StdoutDestination): Promise<void> {
  return new Promise((resolve) => {
    if (destination.gone) return resolve();
    setTimeout(resolve, LOG_FLUSH_GRACE_MS).unref();
    destination.once('close', () => resolve());
    destination.once('error', () => resolve());
    head.end();
  });
}
