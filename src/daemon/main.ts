import { type Logger, pino } from 'pino';
import { UnitNaming } from '../core/unitNaming.js';
import { describeBus } from '../systemd/busConnection.js';
import { type DaemonConfig, parseConfig, USAGE, UsageError } from './config.js';
import { type RunningGateway, startGateway } from './gateway.js';
import { type LogOutput, stdoutLog } from './logOutput.js';
import { type RunningServer, startServer } from './server.js';
import { releaseGoneTerminal, terminalGone } from './terminal.js';

export interface RunOptions {
  /** Log lines for people (pino-pretty) instead of JSON: the demo on a terminal. */
  readonly prettyLog?: boolean;
  /** Run after the server has stopped, before the process exits (the demo's embedded systemd). */
  readonly onStopped?: () => Promise<void>;
}

/** Starts lit-streamd with a config and stops it gracefully on SIGTERM or SIGINT. */
export async function runDaemon(config: DaemonConfig, { prettyLog, onStopped }: RunOptions = {}): Promise<RunningServer | RunningGateway> {
  const output = stdoutLog({ pretty: prettyLog });
  const log = createLogger(config.logLevel, output.stream);
  if (config.fleetFile !== undefined) return runGateway({ ...config, fleetFile: config.fleetFile }, log, output);
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
  // SIGHUP: re-read the access file; unary calls in flight are untouched, open streams it no
  // longer allows end (PERMISSION_DENIED or UNAUTHENTICATED).
  // reloadAccess() logs a broken file and keeps the old one: it never rejects.
  stopOnSignals(server, log, output, () => void server.reloadAccess(), onStopped);
  return server;
}

/** lit-streamd --fleet: the gateway over the fleet file's agents. */
async function runGateway(config: DaemonConfig & { fleetFile: string }, log: Logger, output: LogOutput): Promise<RunningGateway> {
  const gateway = await startGateway({ ...config, log });
  log.info(
    {
      listen: gateway.address,
      metrics: gateway.metricsAddress ?? null,
      fleetFile: config.fleetFile,
      hosts: gateway.membership.hosts.map((agent) => agent.host),
      tls: config.tlsCert !== undefined,
      mtls: config.clientCa !== undefined,
      accessFile: config.accessFile ?? null,
    },
    'lit-streamd started as a fleet gateway',
  );
  // SIGHUP: re-read the access file and the fleet file; either, if broken, is refused and the
  // previous one stays in force. reload() logs what it refuses: it never rejects.
  stopOnSignals(gateway, log, output, () => void gateway.reload());
  return gateway;
}

/**
 * SIGTERM or SIGINT: a graceful shutdown, then exit once the log is written out. SIGHUP: `reload`;
 * but once the terminal the server was started on has been closed, SIGHUP is that hangup (as for
 * any program run on a terminal) and stops the server like SIGTERM: nobody is left to read it, or
 * to stop it with Ctrl-C. A daemon (systemd's unit) has no terminal, so SIGHUP always reloads it.
 */
function stopOnSignals(server: { shutdown(): Promise<void> }, log: Logger, output: LogOutput, reload: () => void, onStopped?: () => Promise<void>): void {
  let stopping = false;
  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
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
      releaseGoneTerminal();
      process.exit(code);
    }
  };
  // stop() handles its own failures (above) and never rejects.
  process.once('SIGTERM', (signal) => void stop(signal));
  process.once('SIGINT', (signal) => void stop(signal));
  process.on('SIGHUP', (signal) => (terminalGone() ? void stop(signal) : reload()));
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
