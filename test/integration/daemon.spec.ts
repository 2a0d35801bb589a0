import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { connectivityState, credentials, status } from '@grpc/grpc-js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { hashToken } from '../../src/auth/index.js';
import { callMetadata } from '../../clients/typescript/src/index.js';
import { EmbeddedSystemd } from '../../src/dev/embeddedSystemd.js';
import { readServiceState } from '../../src/systemd/serviceState.js';
import { ActionStatus, StreamServiceClient, type WatchStatusResponse } from '../../gen/lit/stream/v1/stream.js';
import { installUnits, rpc, rpcError, waitFor } from './harness.js';

/** The lit-streamd command line, run from source as `npx lit-streamd` runs the built copy. */
function launch(args: string[]): { child: ChildProcess; lines: Record<string, unknown>[]; exited: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/daemon/cli.ts', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  child.once('exit', () => running.delete(child));
  const lines: Record<string, unknown>[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => lines.push(JSON.parse(line)));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, lines, exited };
}

let sandbox: EmbeddedSystemd;
beforeAll(async () => {
  sandbox = await EmbeddedSystemd.boot();
  await installUnits(sandbox);
});
afterAll(async () => {
  await sandbox?.shutdown();
});
/** Daemons still running after their spec: one that failed before it stopped its daemon left it. */
const running = new Set<ChildProcess>();
afterEach(async () => {
  await Promise.all(
    [...running].map((child) => {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      return exited;
    }),
  );
});

describe('lit-streamd, the command', () => {
  it('logs a startup line, serves, and on SIGTERM lets an in-flight Start finish before exiting 0', async () => {
    const daemon = launch(['--listen', '127.0.0.1:0', '--bus', sandbox.busAddress]);
    await waitFor(() => daemon.lines.some((line) => line.msg === 'lit-streamd started'), 15_000, 'the startup line');
    const startup = daemon.lines.find((line) => line.msg === 'lit-streamd started')!;
    expect(startup).toMatchObject({ bus: sandbox.busAddress, unitPrefix: 'lit-stream-', systemd: 'connected' });
    const address = String(startup.listen);
    const client = new StreamServiceClient(address, credentials.createInsecure());

    // `slow` spends 2 s in ExecStartPre, so its Start is in flight when SIGTERM arrives.
    const inFlight = rpc(client, client.start, { team: 'contoso', name: 'slow' });
    const unit = 'lit-stream-contoso@slow.service';
    await waitFor(
      async () => (await sandbox.withManager(async (m) => readServiceState(await m.getUnitProperties(unit)))).ActiveState === 'activating',
      5_000,
      'the start job to be running',
    );
    daemon.child.kill('SIGTERM');

    const response = await inFlight;
    expect(response.status).toBe(ActionStatus.ACTION_STATUS_SUCCESS);
    expect(await daemon.exited).toBe(0);
    expect(daemon.lines.map((line) => line.msg)).toEqual(
      expect.arrayContaining(['shutting down: finishing in-flight calls', 'rpc', 'stopped']),
    );
    const error = await rpcError(client, client.getStatus, { team: 'contoso', name: 'slow' }, 2_000);
    expect(error.code).toBe(status.UNAVAILABLE);
    client.close();
    await sandbox.withManager((m) => m.StopUnit(unit, 'replace'));
  });

  it('takes its settings from the environment', async () => {
    const env = { ...process.env, LIT_STREAM_LISTEN: '127.0.0.1:0', LIT_STREAM_BUS: sandbox.busAddress, LIT_STREAM_UNIT_PREFIX: 'feeds-' };
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/daemon/cli.ts'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: Record<string, unknown>[] = [];
    createInterface({ input: child.stdout }).on('line', (line) => lines.push(JSON.parse(line)));
    await waitFor(() => lines.some((line) => line.msg === 'lit-streamd started'), 15_000, 'the startup line');
    expect(lines.find((line) => line.msg === 'lit-streamd started')).toMatchObject({ bus: sandbox.busAddress, unitPrefix: 'feeds-' });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGINT');
    expect(await exited).toBe(0);
  });

  it('reloads the access file on SIGHUP without dropping connections, and keeps the old one if the new one is broken', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lit-stream-hup-'));
    const accessFile = join(dir, 'access.json');
    const grant = (tokens: Record<string, string>) =>
      JSON.stringify({
        tokens: Object.entries(tokens).map(([name, token]) => ({ name, sha256: hashToken(token) })),
        certificates: [],
        grants: Object.fromEntries(Object.keys(tokens).map((name) => [name, { contoso: 'reader' }])),
      });
    await writeFile(accessFile, grant({ first: 'first-token' }));
    const daemon = launch(['--listen', '127.0.0.1:0', '--bus', sandbox.busAddress, '--access-file', accessFile]);
    await waitFor(() => daemon.lines.some((line) => line.msg === 'lit-streamd started'), 15_000, 'the startup line');
    const address = String(daemon.lines.find((line) => line.msg === 'lit-streamd started')!.listen);
    const client = new StreamServiceClient(address, credentials.createInsecure());
    const statusAs = (token: string) =>
      new Promise<number>((resolve) =>
        client.getStatus({ team: 'contoso', name: 'bitcoin' }, callMetadata({ token }), (error) => resolve(error ? error.code : status.OK)),
      );
    expect(await statusAs('first-token')).toBe(status.OK);
    expect(await statusAs('second-token')).toBe(status.UNAUTHENTICATED);
    // What a dropped connection would show: the channel leaving READY (grpc-js reconnects without
    // telling its calls), and a stream open across the reloads ending.
    const channel = client.getChannel();
    expect(channel.getConnectivityState(false)).toBe(connectivityState.READY);
    const left: connectivityState[] = [];
    let watching = true;
    const onChange = () => {
      if (!watching) return;
      const now = channel.getConnectivityState(false);
      left.push(now);
      channel.watchConnectivityState(now, Infinity, onChange);
    };
    channel.watchConnectivityState(connectivityState.READY, Infinity, onChange);
    const watch = client.watchStatus({ team: 'contoso', name: 'bitcoin' }, callMetadata({ token: 'first-token' }));
    const watched: WatchStatusResponse[] = [];
    let watchEnded: unknown;
    watch.on('data', (message: WatchStatusResponse) => watched.push(message));
    watch.on('error', (error) => (watchEnded = error));
    watch.on('end', () => (watchEnded = 'end'));
    await waitFor(() => watched.length === 1, 5_000, 'the watch to begin');

    await writeFile(accessFile, grant({ first: 'first-token', second: 'second-token' }));
    daemon.child.kill('SIGHUP');
    await waitFor(() => daemon.lines.some((line) => line.msg === 'access file reloaded'), 5_000, 'the reload');
    expect(await statusAs('second-token')).toBe(status.OK);

    await writeFile(accessFile, '{ "tokens": [ broken');
    daemon.child.kill('SIGHUP');
    await waitFor(() => daemon.lines.some((line) => line.msg === 'access file rejected; the previous one stays in force'), 5_000, 'the rejection');
    expect(await statusAs('second-token')).toBe(status.OK);

    // The stream opened before the reloads still delivers: a change made now reaches it.
    await sandbox.withManager((m) => m.StartUnit('lit-stream-contoso@bitcoin.service', 'replace'));
    await waitFor(() => watched.length > 1 || watchEnded !== undefined, 5_000, 'the change to reach the watch');
    expect(watchEnded).toBeUndefined();
    expect(left).toEqual([]); // one connection throughout
    watching = false;
    watch.cancel();
    await sandbox.withManager((m) => m.StopUnit('lit-stream-contoso@bitcoin.service', 'replace'));

    client.close();
    daemon.child.kill('SIGTERM');
    expect(await daemon.exited).toBe(0);
    await rm(dir, { recursive: true, force: true });
  });

  it('exits on SIGTERM even when nobody reads its log any more (`lit-streamd | head -1`)', async () => {
    const daemon = launch(['--listen', '127.0.0.1:0', '--bus', sandbox.busAddress]);
    await waitFor(() => daemon.lines.some((line) => line.msg === 'lit-streamd started'), 15_000, 'the startup line');
    daemon.child.stdout!.destroy(); // the reader goes away, as `head` does after its line
    daemon.child.kill('SIGTERM');
    const exitedInTime = await Promise.race([daemon.exited.then(() => true), new Promise((r) => setTimeout(r, 15_000, false))]);
    if (!exitedInTime) daemon.child.kill('SIGKILL');
    expect(exitedInTime).toBe(true);
    expect(await daemon.exited).toBe(0);
  });

  it('refuses a malformed command line with exit status 2 and the usage', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/daemon/cli.ts', '--listen', 'nonsense'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const code = await new Promise((resolve) => child.once('exit', resolve));
    expect(code).toBe(2);
    expect(stderr).toContain('is not HOST:PORT');
    expect(stderr).toContain('Usage: lit-streamd');
  });
});
