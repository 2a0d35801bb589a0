import { BusConnection, type BusSpec, type Signal } from './busConnection.js';
import { JobTracker } from './jobs.js';
import { MANAGER_INTERFACE, MANAGER_SIGNALS_MATCH, SystemdManager } from './manager.js';

/**
 * One live connection to systemd, ready for jobs: the bus connection, the Manager on it, and a
 * JobTracker fed by the JobRemoved signals it receives. Opened subscribed, so no job started through
 * it can finish unseen.
 */
export class SystemdSession {
  readonly manager: SystemdManager;
  readonly jobs = new JobTracker();

  private constructor(readonly connection: BusConnection) {
    this.manager = new SystemdManager(connection);
    connection.on('signal', (signal: Signal) => {
      // JobRemoved(u id, o job, s unit, s result)
      if (signal.interface === MANAGER_INTERFACE && signal.member === 'JobRemoved') {
        this.jobs.jobRemoved(signal.body[1] as string, signal.body[3] as string);
      }
    });
    connection.once('closed', (error: Error) => this.jobs.fail(error));
  }

  static async open(spec: BusSpec): Promise<SystemdSession> {
    const connection = await BusConnection.open(spec);
    try {
      const session = new SystemdSession(connection);
      // Match first, then Subscribe: systemd emits job signals only while some client is
      // subscribed (org.freedesktop.systemd1(5), "Subscribe()").
      await connection.addMatch(MANAGER_SIGNALS_MATCH);
      await session.manager.Subscribe();
      return session;
    } catch (error) {
      connection.close();
      throw error;
    }
  }

  close(): void {
    this.connection.close();
  }
}
