import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { existsSync } from 'node:fs';
import { credentials, Metadata, type ServiceError, status as grpcStatus } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HealthCheckResponse, HealthCheckResponse_ServingStatus as Serving, HealthClient } from '../../gen/grpc/health/v1/health.js';
import { StreamServiceClient } from '../../gen/lit/stream/v1/stream.js';
import { hashToken } from '../../src/auth/tokens.js';
import { BusConnection } from '../../src/systemd/busConnection.js';
import { EmbeddedSystemd } from '../../src/dev/embeddedSystemd.js';
import { freePort } from '../support/freePort.js';

/**
 * deploy/lit-streamd.service, run by a real systemd: the embedded user manager the integration
 * specs use, with the unit changed only where a user manager differs from the system one. Proves
 * that node and lit-streamd run under every sandboxing option of the unit, read the access file
 * and re-read it on `systemctl reload`, and that MemoryDenyWriteExecute= really would kill node,
 * as the unit's comment says. It runs bin/lit-streamd.js, so dist/ must be built (npm test does).
 */

const REPO = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '');
const UNIT = join(REPO, 'deploy', 'lit-streamd.service');

/** The unit as the embedded user manager can run it; every sandboxing option is kept. */
function forEmbeddedSystemd(unit: string, sandbox: EmbeddedSystemd, envFile: string, configDir: string): string {
  const bus = sandbox.busAddress.replace(/^unix:path=/, '');
  // A user manager runs services as its own user (root here, without capabilities:
  // CapabilityBoundingSet= is empty); it has no lit-stream to switch to.
  let text = change(unit, /^User=lit-stream\nGroup=lit-stream\n/m, '');
  // This checkout stands in for /opt/lit-stream (bin/, dist/, node_modules/).
  text = change(text, /\/opt\/lit-stream/g, REPO);
  text = change(text, '--bus system', `--bus ${sandbox.busAddress}`);
  text = change(text, 'EnvironmentFile=-/etc/lit-stream/lit-streamd.env', `EnvironmentFile=${envFile}`);
  // The embedded bus lives under /tmp, which PrivateTmp= replaces; a host's system bus is
  // /run/dbus/system_bus_socket, which it leaves alone. Bind the socket into the private /tmp.
  // The same for the stand-in of /etc/lit-stream.
  // A checkout under /tmp or /var/tmp (CI clones anywhere) would vanish behind PrivateTmp= too.
  const checkoutInTmp = /^\/(var\/)?tmp\//.test(`${REPO}/`) ? ` ${REPO}` : '';
  text = change(text, /^PrivateTmp=yes$/m, `PrivateTmp=yes\nBindReadOnlyPaths=${bus} ${configDir}${checkoutInTmp}`);
  // ProtectHome=yes would hide a checkout under /root or /home; read-only still shows it.
  if (/^\/(root|home|run\/user)(\/|$)/.test(REPO)) text = change(text, /^ProtectHome=yes$/m, 'ProtectHome=read-only');
  return text;
}

/** `text` with `from` replaced, failing when the unit no longer has `from`. */
function change(text: string, from: string | RegExp, to: string): string {
  const changed = text.replace(from, to);
  if (changed === text) throw new Error(`deploy/lit-streamd.service no longer has ${String(from)}: update this spec`);
  return changed;
}

/** Polls `probe` until it returns a value, or fails after `timeoutMs`. */
async function poll<T>(probe: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20)); // a polling interval, not a wait for luck
  }
}

const READER_TOKEN = 'reader-token-for-the-sandboxed-daemon';

/** An access file that makes READER_TOKEN's owner a reader of contoso, or grants it nothing. */
function accessFile(grantsReader: boolean): string {
  return `tokens:\n  - { name: dashboard, sha256: ${hashToken(READER_TOKEN)} }\ngrants:\n  dashboard: ${grantsReader ? '{ contoso: reader }' : '{}'}\n`;
}

describe('deploy/lit-streamd.service, run by a real systemd', () => {
  let sandbox: EmbeddedSystemd;
  let port: number;
  let configDir: string;
  let client: StreamServiceClient;

  /** ListStreams for contoso with READER_TOKEN (or no token): the gRPC status code it ends with. */
  const listContoso = (withToken: boolean) =>
    new Promise<grpcStatus>((resolve) => {
      const metadata = new Metadata();
      if (withToken) metadata.set('authorization', `Bearer ${READER_TOKEN}`);
      client.listStreams({ team: 'contoso', pageSize: 0, pageToken: '' }, metadata, { deadline: Date.now() + 10_000 }, (error: ServiceError | null) =>
        resolve(error ? error.code : grpcStatus.OK),
      );
    });

  const unitState = (unit: string) =>
    sandbox.withManager(async (manager) => (await manager.getUnitProperties(unit)) as Record<string, unknown>);

  beforeAll(async () => {
    if (!existsSync(join(REPO, 'dist', 'src', 'daemon', 'cli.js'))) throw new Error('bin/lit-streamd.js needs dist/: run npm run build');
    sandbox = await EmbeddedSystemd.boot();
    // Mount namespacing (ProtectHome=, ProtectKernelTunables=, ...) masks paths with the
    // "inaccessible" nodes that PID 1 makes in /run/systemd/inaccessible at boot. Root's user
    // manager looks for them there too; the embedded one has a /run/systemd of its own, so give
    // it a copy of the nodes it made in its runtime directory.
    await promisify(execFile)('cp', ['-a', join(sandbox.runtimeDir, 'systemd', 'inaccessible'), `/proc/${sandbox.pid}/root/run/systemd/`]);
    port = await freePort();
    configDir = join(sandbox.root, 'etc-lit-stream');
    await mkdir(configDir);
    await writeFile(join(configDir, 'access.yaml'), accessFile(true));
    const envFile = join(sandbox.root, 'lit-streamd.env');
    await writeFile(envFile, `LIT_STREAM_LISTEN=127.0.0.1:${port}\nLIT_STREAM_ACCESS_FILE=${configDir}/access.yaml\n`);
    const unit = forEmbeddedSystemd(await readFile(UNIT, 'utf8'), sandbox, envFile, configDir);
    await sandbox.writeUnit('lit-streamd.service', unit);
    await sandbox.writeUnit(
      'lit-streamd-mdwe.service',
      unit.replace('Restart=on-failure', 'Restart=no').replace('[Install]', 'MemoryDenyWriteExecute=yes\n\n[Install]'),
    );
    await sandbox.reload();
  }, 60_000);

  afterAll(async () => {
    client?.close();
    await sandbox?.shutdown();
  });

  it('starts, connects to systemd over D-Bus and serves gRPC on the address of lit-streamd.env', async () => {
    await sandbox.withManager((manager) => manager.StartUnit('lit-streamd.service', 'replace'));
    const health = new HealthClient(`127.0.0.1:${port}`, credentials.createInsecure());
    try {
      const serving = await new Promise<boolean>((resolve, reject) => {
        // waitForReady: the port opens once node has started; until then, keep trying.
        const watch = health.watch({ service: '' }, new Metadata({ waitForReady: true }), { deadline: Date.now() + 20_000 });
        watch.on('data', (response: HealthCheckResponse) => {
          if (response.status !== Serving.SERVING) return;
          watch.cancel();
          resolve(true);
        });
        watch.on('error', (error: Error & { code?: number }) => (error.code === grpcStatus.CANCELLED ? undefined : reject(error)));
      });
      expect(serving).toBe(true);
    } finally {
      health.close();
    }
    expect(await unitState('lit-streamd.service')).toMatchObject({ ActiveState: 'active', SubState: 'running', NRestarts: 0 });
  }, 30_000);

  it('runs confined: no new privileges, a seccomp filter, no capabilities, a read-only file system', async () => {
    const pid = Number((await unitState('lit-streamd.service')).MainPID);
    expect(pid).toBeGreaterThan(1);
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    expect(status).toMatch(/^NoNewPrivs:\s+1$/m);
    expect(status).toMatch(/^Seccomp:\s+2$/m); // SECCOMP_MODE_FILTER
    expect(status).toMatch(/^CapEff:\s+0+$/m);
    expect(status).toMatch(/^CapBnd:\s+0+$/m);
    const mounts = await readFile(`/proc/${pid}/mountinfo`, 'utf8');
    const root = mounts.split('\n').find((line) => line.split(' ')[4] === '/');
    expect(root?.split(' ')[5]?.split(',')).toContain('ro');
  });

  it('enforces the access file, and re-reads it on `systemctl reload` (ExecReload= sends SIGHUP)', async () => {
    client = new StreamServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
    expect(await listContoso(true)).toBe(grpcStatus.OK);
    expect(await listContoso(false)).toBe(grpcStatus.UNAUTHENTICATED);

    await writeFile(join(configDir, 'access.yaml'), accessFile(false));
    const bus = await BusConnection.open(sandbox.busAddress);
    try {
      await bus.call({
        destination: 'org.freedesktop.systemd1',
        path: '/org/freedesktop/systemd1',
        interface: 'org.freedesktop.systemd1.Manager',
        member: 'ReloadUnit',
        signature: 'ss',
        body: ['lit-streamd.service', 'replace'],
      });
    } finally {
      bus.close();
    }
    // The reload is asynchronous in the server: ask until the new file is in force.
    await poll(async () => ((await listContoso(true)) === grpcStatus.PERMISSION_DENIED ? true : undefined), 10_000, 'the reloaded access file');
    expect(await unitState('lit-streamd.service')).toMatchObject({ ActiveState: 'active', NRestarts: 0 });
  }, 30_000);

  it('cannot run with MemoryDenyWriteExecute=yes: node dies on its first JIT code, as the unit says', async () => {
    await sandbox.withManager((manager) => manager.StartUnit('lit-streamd-mdwe.service', 'replace'));
    const state = await poll(
      async () => {
        const properties = await unitState('lit-streamd-mdwe.service');
        return properties.ActiveState === 'failed' ? properties : undefined;
      },
      20_000,
      'lit-streamd-mdwe.service to fail',
    );
    expect(state.Result).toMatch(/^(signal|core-dump)$/);
  }, 30_000);
});
