import { EventEmitter } from 'node:events';
import dbus from 'dbus-next';
import { BusUnavailableError, DBusErrorNames, SystemdCallError } from './errors.js';

/** `system`, `session`, or a D-Bus address such as `unix:path=/run/user/1000/bus`. */
export type BusSpec = string;

export interface CallSpec {
  readonly destination?: string;
  readonly path: string;
  readonly interface: string;
  readonly member: string;
  readonly signature?: string;
  readonly body?: unknown[];
  /** Reply timeout; the D-Bus reference implementation's default is 25 s. */
  readonly timeoutMs?: number;
  /**
   * The peer may spend seconds of work on this call (see oldestSlowCall): a call answered behind it
   * waits that long too. Only for calls known to, so a frozen peer is still noticed soon otherwise.
   */
  readonly slow?: boolean;
}

export interface Signal {
  /** The unique name of the connection that sent it (the bus daemon fills this in; it cannot be
   *  forged), or `org.freedesktop.DBus` for the bus daemon's own signals. */
  readonly sender: string;
  readonly path: string;
  readonly interface: string;
  readonly member: string;
  readonly body: unknown[];
  /** Position of this message among all received on the connection (see `Reply.sequence`). */
  readonly sequence: number;
}

/** A method reply with its position among all messages received on the connection. */
export interface Reply {
  readonly body: unknown[];
  /**
   * Messages on one connection arrive in the order the bus sent them, so comparing sequences
   * tells whether a signal describes a state older or newer than a reply, e.g. a
   * PropertiesChanged against a GetAll answer, even though promise continuations run later.
   */
  readonly sequence: number;
}

const DEFAULT_REPLY_TIMEOUT_MS = 25_000;

const BUS_DRIVER = { destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus' };

/**
 * One D-Bus connection. Wraps dbus-next's MessageBus to add what a server needs from it: a reply
 * timeout on every call, calls that fail at once (instead of hanging) when the connection is lost,
 * and a single `closed` event however the connection ends. Once closed — by us, by the peer, or
 * by any error dbus-next reports — its socket is destroyed, so nothing of it (match rules, a
 * systemd subscription) outlives it on the bus.
 *
 * Events: `signal` (Signal) for every signal received, `closed` (Error) once.
 */
export class BusConnection extends EventEmitter {
  /** Calls awaiting their reply: how to abandon each, and for a slow call where it went and when it was sent. */
  private readonly pending = new Map<(error: Error) => void, { readonly destination: string; readonly sentAt: number } | undefined>();
  private readonly replySequences = new Map<number, number>();
  private received = 0;
  private closedWith: Error | undefined;

  private constructor(
    private readonly bus: dbus.MessageBus,
    readonly spec: BusSpec,
  ) {
    super();
    // dbus-next emits 'message' for every incoming message before it dispatches it, in wire order.
    bus.on('message', (msg: dbus.Message) => {
      const sequence = ++this.received;
      if (msg.type === dbus.MessageType.SIGNAL && msg.path && msg.interface && msg.member) {
        this.emit('signal', { sender: msg.sender ?? '', path: msg.path, interface: msg.interface, member: msg.member, body: msg.body, sequence });
      } else if (msg.type === dbus.MessageType.METHOD_RETURN && this.replySequences.has(Number(msg.replySerial))) {
        this.replySequences.set(Number(msg.replySerial), sequence);
      }
    });
    // dbus-next reports socket errors, but also messages it could not read and writes after the
    // end, as 'error', and leaves the socket open: after any of them the connection can no longer
    // be trusted to be complete, so close it for real rather than just stop using it.
    bus.on('error', (error: Error) => this.close(error));
    // dbus-next forwards socket errors but not a clean end of the stream (the daemon went away),
    // so listen on its connection too (it emits 'end', never 'close').
    const connection = (bus as unknown as { _connection?: EventEmitter })._connection;
    connection?.on('end', () => this.close(new Error('the bus closed the connection')));
  }

  /** Connects and completes the D-Bus Hello handshake, or fails within `timeoutMs`. */
  static async open(spec: BusSpec, timeoutMs = 5_000): Promise<BusConnection> {
    const bus =
      spec === 'system'
        ? dbus.systemBus()
        : spec === 'session'
          ? dbus.sessionBus()
          : dbus.sessionBus({ busAddress: spec });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error(`no answer from the bus within ${timeoutMs} ms`)), timeoutMs);
      const fail = (error: Error) => {
        clearTimeout(timer);
        bus.removeAllListeners('connect');
        // Whatever the abandoned connection still reports (a write after the end) is nobody's.
        bus.removeAllListeners('error');
        bus.on('error', () => undefined);
        destroyBus(bus);
        reject(new BusUnavailableError(`cannot connect to D-Bus at ${describeBus(spec)}: ${error.message}`));
      };
      bus.once('error', fail);
      bus.once('connect', () => {
        clearTimeout(timer);
        bus.removeListener('error', fail);
        resolve();
      });
    });
    return new BusConnection(bus, spec);
  }

  /** The connection's unique bus name (e.g. `:1.42`), as the bus daemon knows it. */
  get uniqueName(): string | null {
    return (this.bus as unknown as { name: string | null }).name;
  }

  get isOpen(): boolean {
    return this.closedWith === undefined;
  }

  async call(spec: CallSpec): Promise<unknown[]> {
    return (await this.callInOrder(spec)).body;
  }

  /** Like call(), with the reply's position among received messages. */
  async callInOrder(spec: CallSpec): Promise<Reply> {
    if (this.closedWith) throw new BusUnavailableError(`D-Bus connection lost: ${this.closedWith.message}`);
    const message = new dbus.Message({
      destination: spec.destination,
      path: spec.path,
      interface: spec.interface,
      member: spec.member,
      signature: spec.signature ?? '',
      body: spec.body ?? [],
    });
    const timeoutMs = spec.timeoutMs ?? DEFAULT_REPLY_TIMEOUT_MS;
    return new Promise<Reply>((resolve, reject) => {
      const abandon = (error: Error) => {
        clearTimeout(timer);
        this.pending.delete(abandon);
        this.replySequences.delete(Number(message.serial));
        reject(error);
      };
      const timer = setTimeout(
        () => abandon(new SystemdCallError(spec.member, DBusErrorNames.noReply, `no reply within ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.pending.set(abandon, spec.slow ? { destination: spec.destination ?? '', sentAt: Date.now() } : undefined);
      let sent: Promise<dbus.Message | null>;
      try {
        sent = this.bus.call(message); // assigns message.serial
      } catch (error) {
        // dbus-next throws when the socket is no longer writable and it has not told us yet.
        this.close(error as Error);
        return;
      }
      const serial = Number(message.serial);
      this.replySequences.set(serial, 0); // 0 until the reply arrives
      sent.then(
        (reply) => {
          clearTimeout(timer);
          this.pending.delete(abandon);
          const sequence = this.replySequences.get(serial) || this.received;
          this.replySequences.delete(serial);
          resolve({ body: reply?.body ?? [], sequence });
        },
        (error: unknown) => {
          this.replySequences.delete(serial);
          if (!this.pending.has(abandon)) return;
          abandon(
            error instanceof dbus.DBusError
              ? new SystemdCallError(spec.member, error.type, error.text)
              : new BusUnavailableError(`${spec.member}: ${(error as Error).message}`),
          );
        },
      );
    });
  }

  /** Adds a match rule so the bus routes these signals to us (D-Bus spec, "Match Rules"). */
  async addMatch(rule: string, timeoutMs?: number): Promise<void> {
    await this.call({ ...BUS_DRIVER, member: 'AddMatch', signature: 's', body: [rule], timeoutMs });
  }

  /**
   * The unique name of the connection that owns a well-known name, with the reply's position
   * among received messages; `owner` is undefined when nobody owns it (D-Bus spec, "GetNameOwner").
   */
  async getNameOwner(name: string, timeoutMs?: number): Promise<{ owner: string | undefined; sequence: number }> {
    try {
      const reply = await this.callInOrder({ ...BUS_DRIVER, member: 'GetNameOwner', signature: 's', body: [name], timeoutMs });
      return { owner: reply.body[0] as string, sequence: reply.sequence };
    } catch (error) {
      if (error instanceof SystemdCallError && error.dbusErrorName === DBusErrorNames.nameHasNoOwner) {
        return { owner: undefined, sequence: this.received };
      }
      throw error;
    }
  }

  /** org.freedesktop.DBus.Peer.Ping: resolves when the peer answers (sd-bus answers it itself). */
  async ping(destination: string, timeoutMs: number): Promise<void> {
    await this.call({ destination, path: '/', interface: 'org.freedesktop.DBus.Peer', member: 'Ping', timeoutMs });
  }

  /**
   * When the oldest slow call (CallSpec.slow) still awaiting its reply from one of `destinations` was
   * sent (Date.now()), or undefined when none is.
   */
  oldestSlowCall(destinations: readonly string[]): number | undefined {
    let oldest: number | undefined;
    for (const call of this.pending.values()) {
      if (call && destinations.includes(call.destination) && (oldest === undefined || call.sentAt < oldest)) oldest = call.sentAt;
    }
    return oldest;
  }

  /** Closes the connection for real (its socket is destroyed); pending calls fail at once. */
  close(reason: Error = new Error('closed by lit-streamd')): void {
    if (this.closedWith) return;
    this.closedWith = reason;
    destroyBus(this.bus);
    const unavailable = new BusUnavailableError(`D-Bus connection lost: ${reason.message}`);
    for (const abandon of [...this.pending.keys()]) abandon(unavailable);
    this.emit('closed', reason);
  }
}

/**
 * Ends the bus's socket for real. disconnect() only half-closes (end()): a peer that is frozen or
 * gone would keep the socket open on our side, so destroy() releases it now.
 */
export function destroyBus(bus: dbus.MessageBus): void {
  try {
    bus.disconnect();
  } catch {
    // the socket is already gone
  }
  (bus as unknown as { _connection?: { stream?: { destroy?: () => void } } })._connection?.stream?.destroy?.();
}

export function describeBus(spec: BusSpec): string {
  return spec === 'system' || spec === 'session' ? `the ${spec} bus` : spec;
}
