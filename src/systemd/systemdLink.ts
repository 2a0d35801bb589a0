import { EventEmitter } from 'node:events';
import { type BusSpec, describeBus } from './busConnection.js';
import { BusUnavailableError } from './errors.js';
import { SystemdSession } from './systemdSession.js';

export interface LinkLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface BackoffOptions {
  readonly initialMs?: number;
  readonly maxMs?: number;
}

/**
 * Keeps one shared SystemdSession alive: connects, and when the connection drops, reconnects with
 * exponential backoff (100 ms doubling to 5 s by default). Callers take `session()` per request and
 * get BusUnavailableError while the bus is down, never a stale connection.
 *
 * Events: `up` (SystemdSession) and `down` (Error).
 */
export class SystemdLink extends EventEmitter {
  private current: SystemdSession | undefined;
  private lastError: Error = new BusUnavailableError('not connected yet');
  private retryTimer: NodeJS.Timeout | undefined;
  private nextDelayMs: number;
  private closed = false;
  private readonly initialMs: number;
  private readonly maxMs: number;

  constructor(
    readonly spec: BusSpec,
    private readonly log: LinkLogger,
    backoff: BackoffOptions = {},
  ) {
    super();
    this.initialMs = backoff.initialMs ?? 100;
    this.maxMs = backoff.maxMs ?? 5_000;
    this.nextDelayMs = this.initialMs;
  }

  /** First connection attempt; resolves either way (the link keeps retrying in the background). */
  async start(): Promise<boolean> {
    await this.connect();
    return this.current !== undefined;
  }

  get isUp(): boolean {
    return this.current !== undefined;
  }

  session(): SystemdSession {
    if (!this.current) {
      throw new BusUnavailableError(`systemd is unreachable on ${describeBus(this.spec)}: ${this.lastError.message}`);
    }
    return this.current;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.current?.close();
    this.current = undefined;
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    try {
      const session = await SystemdSession.open(this.spec);
      if (this.closed) return session.close();
      this.current = session;
      this.nextDelayMs = this.initialMs;
      session.connection.once('closed', (error: Error) => this.lost(session, error));
      this.log.info({ bus: describeBus(this.spec) }, 'connected to systemd');
      this.emit('up', session);
    } catch (error) {
      this.lastError = error as Error;
      this.scheduleRetry();
    }
  }

  private lost(session: SystemdSession, error: Error): void {
    if (this.current !== session) return;
    this.current = undefined;
    this.lastError = error;
    if (this.closed) return;
    this.log.warn({ bus: describeBus(this.spec), err: error.message }, 'lost the connection to systemd; reconnecting');
    this.emit('down', error);
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.closed) return;
    const delay = this.nextDelayMs;
    this.nextDelayMs = Math.min(this.nextDelayMs * 2, this.maxMs);
    this.retryTimer = setTimeout(() => void this.connect(), delay);
    this.retryTimer.unref();
  }
}
