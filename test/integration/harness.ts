import { type ChannelCredentials, credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import { Writable } from 'node:stream';
import { UnitNaming } from '../../src/core/unitNaming.js';
import { createLogger } from '../../src/daemon/main.js';
import { type RunningServer, type ServerOptions as BaseServerOptions, startServer } from '../../src/daemon/server.js';
import { EmbeddedSystemd, type EmbeddedSystemdOptions } from '../../src/dev/embeddedSystemd.js';
import { readServiceState, type ServiceState } from '../../src/systemd/serviceState.js';
import { StreamServiceClient } from '../../gen/lit/stream/v1/stream.js';

/**
 * The test bed: a real systemd user manager (EmbeddedSystemd) with the fixture streams below
 * declared, the real lit-streamd server on a free loopback port, and the generated client.
 */
export interface Harness {
  readonly sandbox: EmbeddedSystemd;
  readonly server: RunningServer;
  readonly client: StreamServiceClient;
  readonly address: string;
  /** Every log line the server wrote, parsed. */
  readonly logs: Record<string, unknown>[];
  /** systemd's own view of a unit, read directly over D-Bus (not through lit-streamd). */
  unitState(unit: string): Promise<ServiceState>;
  stop(): Promise<void>;
}

/**
 * Fixture units. `contoso` has a template running a long-lived worker, two streams declared as
 * symlinks to it, a regular-file stream whose ExecStart exits 1, a slow starter, a masked stream,
 * and a symlink to another team's template (not a stream). `contoso-eu` has a stream `contoso` must
 * never see; `acme` has only a template.
 */
/** A unit file's contents, or a symlink to `link` (in the configuration directory, or the user's data directory). */
export type FixtureUnit = string | { readonly link: string; readonly in?: 'config' | 'data' };

export const FIXTURE_UNITS: Record<string, FixtureUnit> = {
  'lit-stream-contoso@.service': '[Unit]\nDescription=contoso worker %i\n[Service]\nType=exec\nExecStart=/bin/sleep infinity\n',
  'lit-stream-contoso@bitcoin.service': { link: 'lit-stream-contoso@.service' },
  'lit-stream-contoso@ethereum.service': { link: 'lit-stream-contoso@.service' },
  'lit-stream-contoso@crash.service':
    "[Service]\nType=oneshot\nExecStart=/bin/sh -c 'echo starting; exit 1'\n",
  'lit-stream-contoso@slow.service':
    '[Service]\nType=exec\nExecStartPre=/bin/sleep 2\nExecStart=/bin/sleep infinity\n',
  'lit-stream-contoso@masked.service': { link: '/dev/null' },
  'lit-stream-contoso@alias.service': { link: 'lit-stream-acme@.service' },
  'lit-stream-contoso-eu@.service': '[Service]\nType=exec\nExecStart=/bin/sleep infinity\n',
  'lit-stream-contoso-eu@secret.service': { link: 'lit-stream-contoso-eu@.service' },
  'lit-stream-acme@.service': '[Service]\nType=exec\nExecStart=/bin/sleep infinity\n',
};

/**
 * A stream whose start never finishes, for specs that need a start job to stay running: a
 * Type=notify worker that never sends READY=1, with no start timeout, stays `activating`, and its
 * start job runs until something replaces it.
 */
export const STUCK_STREAM_UNITS: Record<string, string> = {
  'lit-stream-contoso@stuck.service': '[Service]\nType=notify\nExecStart=/bin/sleep infinity\nTimeoutStartSec=infinity\n',
};

/** Server options for a harness, plus the credentials its ready-made client uses. */
export type ServerOptions = BaseServerOptions & { readonly clientCredentials?: ChannelCredentials };

/** Writes each unit file (or symlink) into the sandbox, then has systemd reload them. */
export async function installUnits(sandbox: EmbeddedSystemd, units: Record<string, FixtureUnit> = FIXTURE_UNITS): Promise<void> {
  for (const [unit, contents] of Object.entries(units)) {
    if (typeof contents === 'string') await sandbox.writeUnit(unit, contents);
    else await sandbox.linkUnit(unit, contents.link, contents.in);
  }
  await sandbox.reload();
}

export async function startHarness(
  units: Record<string, FixtureUnit> = FIXTURE_UNITS,
  serverOptions: Partial<ServerOptions> = {},
  bootOptions: EmbeddedSystemdOptions = {},
): Promise<Harness> {
  const sandbox = await EmbeddedSystemd.boot(bootOptions);
  try {
    await installUnits(sandbox, units);
    const logs: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        for (const line of String(chunk).split('\n')) if (line) logs.push(JSON.parse(line));
        done();
      },
    });
    const server = await startServer({
      listen: '127.0.0.1:0',
      bus: sandbox.busAddress,
      journalDirectory: sandbox.journalDirectory,
      // Specs of other features do not wait out the settle window after each Start (npm test stays
      // fast); settle.spec.ts runs the server's default.
      settleMs: 0,
      naming: new UnitNaming(),
      log: createLogger('debug', sink),
      ...serverOptions,
    });
    const client = new StreamServiceClient(server.address, serverOptions.clientCredentials ?? credentials.createInsecure());
    return {
      sandbox,
      server,
      client,
      address: server.address,
      logs,
      unitState: (unit) => sandbox.withManager(async (manager) => readServiceState(await manager.getUnitProperties(unit))),
      async stop() {
        client.close();
        await server.shutdown(2_000);
        await sandbox.shutdown();
      },
    };
  } catch (error) {
    await sandbox.shutdown();
    throw error;
  }
}

type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: { deadline?: number },
  callback: (error: ServiceError | null, response: Res) => void,
) => unknown;

/** Calls a generated client method and returns its response, or rejects with the ServiceError. */
export function rpc<Req, Res>(
  client: StreamServiceClient,
  method: UnaryMethod<Req, Res>,
  request: Req,
  deadlineMs = 20_000,
): Promise<Res> {
  return new Promise((resolve, reject) => {
    method.call(client, request, new Metadata(), { deadline: Date.now() + deadlineMs }, (error, response) =>
      error ? reject(error) : resolve(response),
    );
  });
}

/** Resolves with the ServiceError a call fails with; fails the test if the call succeeds. */
export async function rpcError<Req, Res>(
  client: StreamServiceClient,
  method: UnaryMethod<Req, Res>,
  request: Req,
  deadlineMs?: number,
): Promise<ServiceError> {
  try {
    const response = await rpc(client, method, request, deadlineMs);
    throw new Error(`expected the call to fail, got ${JSON.stringify(response)}`);
  } catch (error) {
    if ((error as ServiceError).code === undefined) throw error;
    return error as ServiceError;
  }
}

/** Polls `probe` until it returns true, or fails after `timeoutMs`: a condition wait, not a sleep. */
export async function waitFor(probe: () => Promise<boolean> | boolean, timeoutMs = 5_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

