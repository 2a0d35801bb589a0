import { pino } from 'pino';
import { UnitNaming } from '../core/unitNaming.js';
import { describeBus } from '../systemd/busConnection.js';
import { type DaemonConfig, parseConfig, USAGE, UsageError } from './config.js';
import { type RunningServer, startServer } from './server.js';

/** Starts lit-streamd with a config and stops it gracefully on SIGTERM or SIGINT. */
export async function runDaemon(config: DaemonConfig, onStopped?: () => Promise<void>): Promise<RunningServer> {
  const log = pino({ name: 'lit-streamd', level: config.logLevel });
  const server = await startServer({
    listen: config.listen,
    bus: config.bus,
    naming: new UnitNaming(config.unitPrefix),
    reflection: config.reflection,
    log,
  });
  log.info(
    { listen: server.address, bus: describeBus(config.bus), unitPrefix: config.unitPrefix, systemd: server.link.isUp ? 'connected' : 'unreachable, retrying' },
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
  return server;
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
