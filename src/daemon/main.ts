import { type Logger, pino } from 'pino';
import { UnitNaming } from '../core/unitNaming.js';
import { describeBus } from '../systemd/busConnection.js';
import { type DaemonConfig, parseConfig, USAGE, UsageError } from './config.js';
import { stdoutLog } from './logOutput.js';
import { type RunningServer, startServer } from './server.js';

export interface RunOptions {
  /** Log lines for people (pino-pretty) instead of JSON: the demo on a terminal. */
  readonly prettyLog?: boolean;
  /** Run after the server has stopped, before the process exits (the demo's embedded systemd). */
  readonly onStopped?: () => Promise<void>;
}

/** Starts lit-streamd with a config and stops it gracefully on SIGTERM or SIGINT. */
export async function runDaemon(config: DaemonConfig, { prettyLog, onStopped }: RunOptions = {}): Promise<RunningServer> {
  const output = stdoutLog({ pretty: prettyLog });
  const log = createLogger(config.logLevel, output.stream);
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
      hostName: config.hostName,
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
      await output.close(); // never rejects
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
