import { type Logger, pino } from 'pino';
import { UnitNaming } from '../core/unitNaming.js';
import { describeBus } from '../systemd/busConnection.js';
import { type DaemonConfig, parseConfig, USAGE, UsageError } from './config.js';
import { type RunningServer, startServer } from './server.js';

/** Starts lit-streamd with a config and stops it gracefully on SIGTERM or SIGINT. */
export async function runDaemon(config: DaemonConfig, onStopped?: () => Promise<void>): Promise<RunningServer> {
  const log = createLogger(config.logLevel);
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
  const stop = (signal: NodeJS.Signals) => {
    log.info({ signal }, 'shutting down: finishing in-flight calls');
    void server
      .shutdown()
      .then(() => onStopped?.())
      .then(() => {
        log.info('stopped');
        log.flush();
        process.exit(0);
      });
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  // SIGHUP: re-read the access file; unary calls in flight are untouched, open streams it no
  // longer allows end (PERMISSION_DENIED or UNAUTHENTICATED).
  process.on('SIGHUP', () => void server.reloadAccess());
  return server;
}

/**
 * pino with secrets redacted wherever they could appear in a log object: bearer tokens in
 * metadata or headers, tokens and keys by field name.
 */
export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  const options = {
    name: 'lit-streamd',
    level,
    redact: {
      paths: ['authorization', '*.authorization', '*.*.authorization', 'token', '*.token', 'privateKey', '*.privateKey', 'metadata', '*.metadata'],
      censor: '[redacted]',
    },
  };
  return destination ? pino(options, destination as pino.DestinationStream) : pino(options);
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
