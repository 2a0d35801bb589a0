import { EventEmitter } from 'node:events';
import { type BusSpec, describeBus, type Signal } from './busConnection.js';
import { BusUnavailableError } from './errors.js';
import { type LivenessOptions, SystemdSession } from './systemdSession.js';

export interface LinkLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface BackoffOptions {
  readonly initialMs?: number;
  readonly maxMs?: number;
}

export interface LinkOptions {
  readonly backoff?: BackoffOptions;
  readonly liveness?: LivenessOptions;
}

/**
 * The one owner of the server's session with systemd. It opens a SystemdSession, and when that
 * ends (connection lost, systemd restarted, gone or frozen) opens the next one with exponential
 * backoff (100 ms doubling to 5 s by default). Nothing else keeps a session: callers take
 * `session()` when they need systemd and get BusUnavailableError while there is none, never a
 * stale one; whoever keeps state about systemd listens here and is told when the session is
 * replaced, since what was learnt on one session (message order, job paths, systemd's unique name)
 * is meaningless on the next.
 *
 * Events: `up` (SystemdSession) once a session is open and subscribed; `down` (Error) when it
 * ends; `signal` (Signal) for each of systemd's own signals on the current session.
 */
export class SystemdLink extends EventEmitter {
  private current: SystemdSession | undefined;
  /** A session being opened: closed too if the link closes meanwhile. */
  private opening: SystemdSession | undefined;
  /**
   * Why there is no session: the message only. Keeping the error would keep its unformatted stack's
   * frames, and with them the session that failed and its bus connection, until the next failure.
   */
  private whyDown = 'not connected yet';
  private retryTimer: NodeJS.Timeout | undefined;
  private nextDelayMs: number;
  private closed = false;
  private readonly initialMs: number;
  private readonly maxMs: number;

  constructor(
    readonly spec: BusSpec,
    private readonly log: LinkLogger,
    private readonly options: LinkOptions = {},
  ) {
    super();
    this.initialMs = options.backoff?.initialMs ?? 100;
    this.maxMs = options.backoff?.maxMs ?? 5_000;
    this.nextDelayMs = this.initialMs;
    this.setMaxListeners(0);
  }

  /** First connection attempt; resolves either way (the link keeps retrying in the background). */
  async start(): Promise<boolean> {
    await this.connect();
    return this.current !== undefined;
  }

  get isUp(): boolean {
    return this.current !== undefined;
  }

  /** The current session, or BusUnavailableError (UNAVAILABLE) saying why there is none. */
  session(): SystemdSession {
    if (!this.current) {
      const why = this.opening?.waitingForSystemd ? 'the bus is up, but systemd is not on it' : this.whyDown;
      throw new BusUnavailableError(`systemd is unreachable on ${describeBus(this.spec)}: ${why}`);
    }
    return this.current;
  }

  /** Whether `session` is still the current one (state learnt on an older one is void). */
  isCurrent(session: SystemdSession): boolean {
    return this.current === session;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
    const session = this.current ?? this.opening;
    this.current = undefined;
    session?.close();
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    let session: SystemdSession | undefined;
    try {
      session = await SystemdSession.connect(this.spec, this.options.liveness);
      this.opening = session;
      if (this.closed) return session.close();
      await session.start();
    } catch (error) {
      this.whyDown = (error as Error).message;
      this.log.warn({ bus: describeBus(this.spec), err: this.whyDown, retryInMs: this.nextDelayMs }, 'could not open a session with systemd; retrying');
      this.scheduleRetry();
      return;
    } finally {
      this.opening = undefined;
    }
    if (this.closed) return session.close();
    if (!session.isOpen) return this.scheduleRetry(); // ended between opening and now
    this.current = session;
    this.nextDelayMs = this.initialMs;
    session.on('signal', (signal: Signal) => {
      if (this.current === session) this.emit('signal', signal);
    });
    session.once('closed', (error: Error) => this.lost(session, error));
    this.log.info({ bus: describeBus(this.spec), systemd: session.systemdName }, 'connected to systemd');
    this.emit('up', session);
  }

  private lost(session: SystemdSession, error: Error): void {
    if (this.current !== session) return;
    this.current = undefined;
    this.whyDown = error.message;
    if (this.closed) return;
    this.log.warn({ bus: describeBus(this.spec), err: error.message }, 'lost the connection to systemd; reconnecting');
    this.emit('down', error);
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.closed) return;
    const delay = this.nextDelayMs;
    this.nextDelayMs = Math.min(this.nextDelayMs * 2, this.maxMs);
    // connect() catches its own failures and schedules the next try.
    this.retryTimer = setTimeout(() => void this.connect(), delay);
    this.retryTimer.unref();
  }
}
