import { EventEmitter } from 'node:events';
import { BusConnection, type BusSpec, type Signal } from './busConnection.js';
import { BusUnavailableError } from './errors.js';
import { JobTracker } from './jobs.js';
import {
  MANAGER_INTERFACE,
  MANAGER_SIGNALS_MATCH,
  SYSTEMD_BUS_NAME,
  SYSTEMD_OWNER_MATCH,
  SystemdManager,
  UNIT_PROPERTIES_MATCH,
} from './manager.js';

export interface LivenessOptions {
  /** How often systemd is pinged while nothing else shows it is alive. Default 1 s. */
  readonly intervalMs?: number;
  /**
   * How long systemd may leave a ping (and the calls of opening a session) unanswered before it
   * counts as gone. Default 5 s: systemd answers D-Bus on one thread, and a daemon-reload of a
   * large host keeps it busy for a while; during an announced reload it gets RELOAD_ALLOWANCE_MS.
   */
  readonly timeoutMs?: number;
}

/** A daemon-reload may take this long (what `Manager.Reload` itself is allowed, see manager.ts). */
const RELOAD_ALLOWANCE_MS = 90_000;
const BUS_DRIVER_NAME = 'org.freedesktop.DBus';

/**
 * One session with systemd: one bus connection, and one systemd instance on it — the unique name
 * that owns `org.freedesktop.systemd1` when the session opened. The session owns everything that
 * is only valid for that pair: the match rules and the Subscribe (made before the session counts as
 * open, so no signal can be missed unnoticed; sent to that instance's unique name, and the open
 * fails if the name changes hands first), the order of messages (Signal/Reply `sequence`), job
 * paths (its JobTracker) and systemd's unique name. It ends — and all of that with it — when the
 * connection closes, when another process takes over or drops `org.freedesktop.systemd1`
 * (systemd restarted or died), or when systemd stops answering pings (frozen).
 *
 * Only systemd's own signals count: a signal is passed on only if the bus daemon says it comes
 * from the current owner of `org.freedesktop.systemd1`. On a shared bus anyone may address a
 * signal to us; a match rule with `sender=` limits broadcasts, not unicast signals.
 *
 * Events: `signal` (Signal, from systemd only) and `closed` (Error), once.
 */
export class SystemdSession extends EventEmitter {
  readonly manager: SystemdManager;
  readonly jobs = new JobTracker();
  /** The systemd instance of this session, once learnt (see learnOwner); fixed from then on. */
  private owner: string | undefined;
  /**
   * NameOwnerChanged for systemd's name seen before the owner was learnt, in order: GetNameOwner's
   * reply is ordered against them by sequence (its continuation runs after later messages' handlers).
   */
  private earlyOwnerChanges: { readonly owner: string | undefined; readonly sequence: number }[] = [];
  private opened = false;
  private closedWith: Error | undefined;
  private reloading = false;
  private livenessTimer: NodeJS.Timeout | undefined;
  private pingSentAt: number | undefined;
  private ownerWaiter: (() => void) | undefined;

  private constructor(
    readonly connection: BusConnection,
    private readonly liveness: Required<LivenessOptions>,
  ) {
    super();
    this.manager = new SystemdManager(connection);
    connection.on('signal', (signal: Signal) => this.received(signal));
    connection.once('closed', (error: Error) => this.ended(error));
  }

  /** Connects to the bus; the session is not usable until `start()` has resolved. */
  static async connect(spec: BusSpec, liveness: LivenessOptions = {}): Promise<SystemdSession> {
    const options = { intervalMs: liveness.intervalMs ?? 1_000, timeoutMs: liveness.timeoutMs ?? 5_000 };
    return new SystemdSession(await BusConnection.open(spec, options.timeoutMs), options);
  }

  /**
   * Adds the match rules, finds systemd on the bus (waiting for it to appear if it is not there
   * yet) and subscribes. Rejects, closing the session, if any of that fails or the session ends.
   */
  async start(): Promise<void> {
    try {
      await this.subscribe();
    } catch (error) {
      this.close(error as Error);
      throw error;
    }
  }

  /** True while the bus is connected but nobody owns `org.freedesktop.systemd1`. */
  get waitingForSystemd(): boolean {
    return this.ownerWaiter !== undefined && !this.opened;
  }

  /** The unique bus name of the systemd instance this session talks to. */
  get systemdName(): string | undefined {
    return this.owner;
  }

  get isOpen(): boolean {
    return this.closedWith === undefined;
  }

  close(reason: Error = new Error('closed by lit-streamd')): void {
    this.connection.close(reason);
  }

  private async subscribe(): Promise<void> {
    const timeoutMs = this.liveness.timeoutMs;
    // Rules first, then the questions they keep current: a change between the two is not missed.
    await this.connection.addMatch(SYSTEMD_OWNER_MATCH, timeoutMs);
    await this.connection.addMatch(MANAGER_SIGNALS_MATCH, timeoutMs);
    await this.connection.addMatch(UNIT_PROPERTIES_MATCH, timeoutMs);
    this.owner = await this.learnOwner(await this.connection.getNameOwner(SYSTEMD_BUS_NAME, timeoutMs));
    this.earlyOwnerChanges = [];
    // systemd emits its Manager signals only while some client is subscribed
    // (org.freedesktop.systemd1(5), "Subscribe()"); it drops the subscription when we disconnect.
    // Sent to the unique name just learnt, not the well-known one: the subscription is then with
    // the very instance whose signals the session accepts, or the call fails. Should the name
    // change hands meanwhile, ownerChanged() ends the session, and this call with it.
    await this.manager.Subscribe(timeoutMs, this.owner);
    this.opened = true;
    this.livenessTimer = setInterval(() => this.checkLiveness(), this.liveness.intervalMs);
    this.livenessTimer.unref();
  }

  /**
   * The systemd instance to open the session with: the owner GetNameOwner answered, or, when nobody
   * owned the name then, the first to take it — waited for as long as the connection lasts (after
   * the bus daemon restarts, systemd reconnects to it a moment later). If the name changed hands
   * after that, the open fails (BusUnavailableError) and the link opens the next session.
   */
  private async learnOwner(reply: { owner: string | undefined; sequence: number }): Promise<string> {
    let known = reply;
    for (;;) {
      const later = this.earlyOwnerChanges.filter((change) => change.sequence > known.sequence);
      if (known.owner) {
        if (later.length > 0) throw changedWhileOpening(known.owner, later.at(-1)!.owner);
        return known.owner;
      }
      if (later.length > 0) {
        known = later[0]!;
        continue;
      }
      await new Promise<void>((resolve, reject) => {
        this.ownerWaiter = () => {
          this.off('closed', reject);
          resolve();
        };
        this.once('closed', reject);
      });
      this.ownerWaiter = undefined;
    }
  }

  private received(signal: Signal): void {
    if (this.closedWith) return;
    if (signal.sender === BUS_DRIVER_NAME) {
      if (signal.member === 'NameOwnerChanged' && signal.body[0] === SYSTEMD_BUS_NAME) this.ownerChanged(signal);
      return;
    }
    if (!this.owner || signal.sender !== this.owner) return;
    if (signal.interface === MANAGER_INTERFACE) {
      // JobRemoved(u id, o job, s unit, s result)
      if (signal.member === 'JobRemoved') this.jobs.jobRemoved(signal.body[1] as string, signal.body[3] as string);
      if (signal.member === 'Reloading') this.reloading = signal.body[0] === true;
    }
    this.emit('signal', signal);
  }

  /** NameOwnerChanged(s name, s old_owner, s new_owner) for org.freedesktop.systemd1. */
  private ownerChanged(signal: Signal): void {
    const next = (signal.body[2] as string) || undefined;
    if (this.owner === undefined) {
      // Not learnt yet: learnOwner() orders this against GetNameOwner's reply.
      this.earlyOwnerChanges.push({ owner: next, sequence: signal.sequence });
      this.ownerWaiter?.();
      return;
    }
    if (next === this.owner) return;
    // Another systemd instance (restarted, re-executed) or none: nothing we know holds for it —
    // and a session not open yet may have subscribed with the one that left, or with none.
    if (!this.opened) return this.close(changedWhileOpening(this.owner, next));
    this.close(new BusUnavailableError(next ? `systemd was replaced on the bus (${this.owner} → ${next})` : 'systemd left the bus'));
  }

  /**
   * Every wait on systemd has an end: if a ping goes unanswered for longer than systemd may take,
   * it is frozen or gone, and the session ends — failing the calls and job waits pending on it.
   *
   * systemd answers one message at a time, in order: a ping sent while a call of ours was still
   * unanswered waits behind it, and one call takes systemd seconds of work (ListUnitFilesByPatterns
   * works out each matching file's state by reading every unit directory: quadratic in the unit
   * files, 5 s for 1,000 of them on a loaded 2-core machine). While it is outstanding systemd is
   * busy, not frozen: the call's own reply timeout bounds that wait instead.
   */
  private checkLiveness(): void {
    if (this.closedWith || !this.owner) return;
    const now = Date.now();
    if (this.pingSentAt !== undefined) {
      const allowance = this.reloading ? RELOAD_ALLOWANCE_MS : this.liveness.timeoutMs;
      const busySince = this.connection.oldestSlowCall([SYSTEMD_BUS_NAME, this.owner]);
      const busy = busySince !== undefined && busySince < this.pingSentAt;
      if (now - this.pingSentAt > allowance && !busy) {
        this.close(new BusUnavailableError(`systemd did not answer for ${Math.round((now - this.pingSentAt) / 1000)} s`));
      }
      return;
    }
    this.pingSentAt = now;
    this.connection.ping(this.owner, RELOAD_ALLOWANCE_MS).then(
      () => (this.pingSentAt = undefined),
      () => undefined, // the connection closed, or the check above ends the session first
    );
  }

  private ended(error: Error): void {
    this.closedWith ??= error instanceof BusUnavailableError ? error : new BusUnavailableError(error.message);
    clearInterval(this.livenessTimer);
    this.jobs.fail(this.closedWith);
    this.emit('closed', this.closedWith);
  }
}

function changedWhileOpening(learnt: string, now: string | undefined): BusUnavailableError {
  return new BusUnavailableError(`systemd changed on the bus while the session was opening (${learnt} → ${now ?? 'nobody'})`);
}
