import { inspect } from 'node:util';
import { callMetadata, type ConnectionOptions } from './connection.js';
import { type StreamEvent, streamEvents } from './watch.js';
import { Service, type ServiceActionStatus, type ServiceStatus, toActionStatus, toServiceStatus } from './service.js';

/**
 * A real-time data-streaming service worker, as in the Python SDK:
 *
 *     const stream = new Stream('contoso', 'bitcoin');
 *     await stream.start();   // { status: 'SUCCESS', message: 'Stream started successfully.' }
 *     await stream.status();  // { name: 'bitcoin', active: 'active', status: 'running', ... }
 */
export class Stream extends Service {
  /**
   * @param team The name of the team that owns the Stream.
   * @param name The name of the Stream.
   */
  constructor(
    readonly team: string,
    readonly name: string,
    options: ConnectionOptions = {},
  ) {
    super(options);
  }

  /** Starts the stream; resolves once systemd has finished starting it. */
  async start(): Promise<ServiceActionStatus> {
    return toActionStatus(await this.call(this.client.start, this.ref(), 'action'));
  }

  /** Stops the stream; stopping a stopped stream succeeds. */
  async stop(): Promise<ServiceActionStatus> {
    return toActionStatus(await this.call(this.client.stop, this.ref(), 'action'));
  }

  /** Restarts the stream (starts it if it was stopped). */
  async restart(): Promise<ServiceActionStatus> {
    return toActionStatus(await this.call(this.client.restart, this.ref(), 'action'));
  }

  /** The stream's current status, formatted as `systemctl status` shows it. */
  async status(): Promise<ServiceStatus> {
    const response = await this.call(this.client.getStatus, this.ref());
    if (!response.status) throw new Error('lit-streamd answered GetStatus without a status');
    return toServiceStatus(response.status);
  }

  /**
   * The stream's status now, then every change as it happens:
   * `for await (const { kind, status } of stream.watch()) console.log(kind, status.active)`.
   * The call opens at the first iteration; it runs until the loop is left or the server goes away
   * (no deadline).
   */
  watch(): AsyncGenerator<StreamEvent> {
    return streamEvents(() => this.client.watchStatus(this.ref(), callMetadata(this.options)));
  }

  override toString(): string {
    return `Stream(team='${this.team}', name='${this.name}')`;
  }

  [inspect.custom](): string {
    return this.toString();
  }

  private ref(): { team: string; name: string } {
    return { team: this.team, name: this.name };
  }
}
