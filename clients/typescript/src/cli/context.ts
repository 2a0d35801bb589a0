import { readFileSync } from 'node:fs';
import { ChannelState, type ConnectionOptions, DEFAULT_ADDRESS, GrpcStatus, type LitStreamError, Stream, streamServiceClient, type TlsOptions } from '../index.js';
import type { CommandLine } from './commandLine.js';
import { type Io, type Paint, painter } from './terminal.js';

/** What a command works with: where to connect, how to print, and the one way to report a failed call. */
export class Context {
  readonly connection: ConnectionOptions;
  /** `--host`: through a fleet gateway, the host whose streams are meant. */
  readonly host?: string;
  readonly json: boolean;
  readonly paintOut: Paint;
  readonly paintErr: Paint;
  /** Where lit-streamd is expected, for messages. */
  private readonly address: string;

  constructor(
    readonly io: Io,
    line: CommandLine,
  ) {
    this.connection = connectionOptions(line.connection, io.env);
    if (line.host) this.host = line.host;
    this.address = line.connection.addr ?? (io.env.LIT_STREAM_ADDR || DEFAULT_ADDRESS);
    this.json = line.output === 'json';
    this.paintOut = painter(io.stdout, io.env);
    this.paintErr = painter(io.stderr, io.env);
  }

  /** A stream as the command line names it: on `--host` when given. */
  stream(team: string, name: string): Stream {
    return new Stream(team, name, { ...this.connection, ...(this.host ? { host: this.host } : {}) });
  }

  /** Whether the connection to lit-streamd is up: false when it never answered (see exitCodeForError). */
  get connected(): boolean {
    return streamServiceClient(this.connection).getChannel().getConnectivityState(false) === ChannelState.READY;
  }

  out(line: string): void {
    this.io.stdout.write(`${line}\n`);
  }

  err(line: string): void {
    this.io.stderr.write(`${line}\n`);
  }

  /** A JSON object on its own line. */
  outJson(value: unknown): void {
    this.out(JSON.stringify(value));
  }

  /**
   * A failed call as one line on stderr naming the gRPC code: `lit-streamctl: contoso/dogecoin:
   * NOT_FOUND: stream 'dogecoin' of team 'contoso' is not declared: …`.
   */
  reportError(subject: string | undefined, error: LitStreamError): void {
    // UNAVAILABLE is lit-streamd out of reach, or lit-streamd without systemd: either way, which one.
    const hint =
      error.code === GrpcStatus.UNAVAILABLE
        ? ` (lit-streamd at ${this.address})`
        : error.code === GrpcStatus.DEADLINE_EXCEEDED && !this.connected
          ? ` (lit-streamd at ${this.address} took the connection but never answered)`
          : '';
    // grpc-js ends a connection failure with an empty "Resolution note:"; one line, whatever the server sent.
    const details = error.details.replace(/\s*Resolution note:\s*$/, '');
    const text = `${error.codeName}: ${details}${hint}`.replace(/\s*\n\s*/g, ' ');
    this.err(this.paintErr('bad', `lit-streamctl: ${subject ? `${subject}: ` : ''}${text}`));
  }
}

/**
 * The client library's connection options from the command line. The library itself reads the
 * LIT_STREAM_* variables; only when a TLS file is named on the command line are the three files
 * gathered here, each from its option or else its variable.
 */
function connectionOptions(options: CommandLine['connection'], env: Io['env']): ConnectionOptions {
  const tls: TlsOptions | undefined =
    options.ca || options.cert || options.key
      ? {
          ca: readPem(options.ca ?? env.LIT_STREAM_CA),
          cert: readPem(options.cert ?? env.LIT_STREAM_CERT),
          key: readPem(options.key ?? env.LIT_STREAM_KEY),
        }
      : undefined;
  return { address: options.addr, token: options.token, tls };
}

function readPem(path: string | undefined): Buffer | undefined {
  return path ? readFileSync(path) : undefined;
}
