import { type Logger, pino } from 'pino';
import { UnitNaming } from '../core/unitNaming.js';
import { describeBus } from '../systemd/busConnection.js';
import { type DaemonConfig, parseConfig, USAGE, UsageError } from './config.js';
import { type RunningServer, startServer } from './server.js';

/** How long the last log lines may take to be written at exit. */
const LOG_FLUSH_GRACE_MS = 2_000;

/** Starts lit-streamd with a config and stops it gracefully on SIGTERM or SIGINT. */
export async function runDaemon(config: DaemonConfig, onStopped?: () => Promise<void>): Promise<RunningServer> {
  const stdoutLog = stdoutDestination();
  const log = createLogger(config.logLevel, stdoutLog);
  const server = await startServer({ ...config, naming: new UnitNaming(config.unitPrefix), log });
  log.info(
    {
      listen: server.address,
      metrics: server.metricsAddress ?? null,
      bus: describeBus(config.bus),
      unitPrefix: config.unitPrefix,
      systemd: server.link.isUp ? 'connected' : 'unreachable, retrying',
      tls: config.tlsCert !== undefined,
      mtls: config.clientCa !== undefined,
      accessFile: config.accessFile ?? null,
    },
    'lit-streamd started',
  );
  const stop = async (signal: NodeJS.Signals) => {
    log.info({ signal }, 'shutting down: finishing in-flight calls');
    // The process ends here whatever happens: a shutdown that failed is logged and exits 1.
    let code = 0;
    try {
      await server.shutdown();
      await onStopped?.();
      log.info('stopped');
    } catch (error) {
      log.error({ err: (error as Error).message }, 'could not stop cleanly');
      code = 1;
    } finally {
      await closeLog(stdoutLog); // never rejects
      process.exit(code);
    }
  };
  // stop() handles its own failures (above) and never rejects.
  process.once('SIGTERM', (signal) => void stop(signal));
  process.once('SIGINT', (signal) => void stop(signal));
  // SIGHUP: re-read the access file; unary calls in flight are untouched, open streams it no
  // longer allows end (PERMISSION_DENIED or UNAUTHENTICATED).
  // reloadAccess() logs a broken file and keeps the old one: it never rejects.
  process.on('SIGHUP', () => void server.reloadAccess());
  return server;
}

type StdoutLog = ReturnType<typeof pino.destination> & { gone?: boolean };

/** pino's own asynchronous stdout destination, which remembers when stdout is gone. */
function stdoutDestination(): StdoutLog {
  const destination: StdoutLog = pino.destination({ dest: 1, sync: false });
  // EPIPE: nobody reads stdout any more (`lit-streamd | head`); pino stops writing to it then.
  destination.on('error', () => (destination.gone = true));
  return destination;
}

/**
 * Writes out what is buffered and closes stdout, then resolves; at once if stdout is gone, and
 * within LOG_FLUSH_GRACE_MS whatever happens. Exiting without this runs pino's synchronous flush at
 * exit, which retries an EPIPE for ever (sonic-boom's flushSync retries every error), so a
 * SIGTERM never ended a server whose log reader had gone away.
 */
function closeLog(destination: StdoutLog): Promise<void> {
  return new Promise((resolve) => {
    if (destination.gone) return resolve();
    setTimeout(resolve, LOG_FLUSH_GRACE_MS).unref();
    destination.once('close', () => resolve());
    destination.once('error', () => resolve());
    destination.end();
  });
}

/**
 * pino with secrets redacted wherever they could appear in a log object: bearer tokens in
 * metadata or headers, tokens and keys by field name.
 */
export function createLogger(level: string, destination?: pino.DestinationStream | NodeJS.WritableStream): Logger {
  const options = {
    name: 'lit-streamd',
    level,
    redact: {
      paths: ['authorization', '*.authorization', '*.*.authorization', 'token', '*.token', 'privateKey', '*.privateKey', 'metadata', '*.metadata'],
      censor: '[redacted]',
    },
  };
  return destination ? pino(options, destination) : pino(options);
}

export async function main(argv: readonly string[]): Promise<void> {
  try {
    const config = parseConfig(argv, process.env);
    if (config === 'help') {
      process.stdout.write(USAGE);
      return;
    }
    await runDaemon(config);
  } catch (error) {
    process.stderr.write(`lit-streamd: ${(error as Error).message}\n`);
    if (error instanceof UsageError) process.stderr.write(`\n${USAGE}`);
    process.exit(2);
  }
}
