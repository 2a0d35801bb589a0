import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedSystemd } from '../../src/dev/embeddedSystemd.js';
import { writeAppWithClient } from '../support/appLockfile.js';
import { installUnits, waitFor } from './harness.js';

/**
 * The packages as a stranger gets them: `npm pack`ed, then installed outside this repository —
 * the client into an empty app, offline, compiled with tsc in strict mode and run; the server with
 * `npm install -g` into a temporary prefix, its `lit-streamd` serving a real systemd. The app talks
 * to that installed server.
 *
 * Packing skips the packages' `prepare` (the build): `npm test` has just built dist/ with the same
 * script (pretest), and rebuilding it here would rewrite files that specs running in parallel import.
 */
const CLIENT_WORKSPACE = 'clients/typescript';
const TSC = resolve('node_modules/typescript/bin/tsc');
// npm run sets npm_* variables (the config of *this* npm run); a child npm must not inherit them.
const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.toLowerCase().startsWith('npm_')));

let work: string;
let sandbox: EmbeddedSystemd;
let clientTarball: string;
let serverTarball: string;
let daemon: ChildProcess | undefined;
let serverAddress: string | undefined;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'lit-stream-packages-'));
  [sandbox, clientTarball, serverTarball] = await Promise.all([
    bootSandbox(),
    pack(['--workspace', CLIENT_WORKSPACE]),
    pack([]),
  ]);
});
afterAll(async () => {
  if (daemon && daemon.exitCode === null) {
    const exited = new Promise((resolve) => daemon!.once('exit', resolve));
    daemon.kill('SIGTERM');
    await exited;
  }
  await sandbox?.shutdown();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('the server package, installed with npm install -g', () => {
  it('gives a lit-streamd that serves the streams of a real systemd', async () => {
    const prefix = join(work, 'prefix');
    // Not --offline: a global install resolves the server's dependency ranges, which needs the
    // registry's metadata; --prefer-offline takes it from npm's cache when it is there.
    await npm(['install', '--global', '--prefix', prefix, '--prefer-offline', serverTarball], work);
    const bin = join(prefix, 'bin', 'lit-streamd');
    expect(existsSync(bin)).toBe(true);

    daemon = spawn(bin, ['--listen', '127.0.0.1:0', '--bus', sandbox.busAddress], { cwd: work, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: Record<string, unknown>[] = [];
    createInterface({ input: daemon.stdout! }).on('line', (line) => lines.push(JSON.parse(line) as Record<string, unknown>));
    await waitFor(() => lines.some((line) => line.msg === 'lit-streamd started'), 20_000, "the installed lit-streamd's startup line");
    serverAddress = String(lines.find((line) => line.msg === 'lit-streamd started')!.listen);
  });

  it('gives a lit-streamctl too, which lists the streams of that lit-streamd', async () => {
    expect(serverAddress, 'the installed lit-streamd (previous spec) is serving').toBeDefined();
    const { stdout } = await againstInstalledServer(join(work, 'prefix', 'bin', 'lit-streamctl'), ['list', 'contoso'], work);
    expect(stdout).toMatch(/^\s+NAME\s+LOAD\s+ENABLED\s+ACTIVE\s+SUB\s+UPTIME\s+PID\s+MEMORY\n/);
    expect(stdout).toContain('\n5 streams listed.\n');
  });
});

describe('the client package, installed into an empty app', () => {
  let app: string;
  beforeAll(async () => {
    app = join(work, 'app');
    await mkdir(app);
    writeAppWithClient(app, clientTarball, CLIENT_WORKSPACE, ['@types/node']);
    await npm(['ci', '--offline'], app);
  });

  it("brings @grpc/grpc-js's dependency tree and nothing else: none of the server's dependencies, no protobuf runtime of its own", () => {
    const installed = JSON.parse(readFileSync(join(app, 'node_modules/@lit-stream/client/package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    expect(Object.keys(installed.dependencies)).toEqual(['@grpc/grpc-js']);
    const topLevel = readdirSync(join(app, 'node_modules'));
    for (const notWanted of ['dbus-next', 'pino', 'yaml', '@bufbuild']) expect(topLevel).not.toContain(notWanted);
    expect(readdirSync(join(app, 'node_modules/@lit-stream/client/dist'))).toEqual(expect.arrayContaining(['index.js', 'index.d.ts']));
  });

  it('compiles a strict TypeScript program against its declarations and runs it against the installed server', async () => {
    await writeFile(join(app, 'tsconfig.json'), JSON.stringify(APP_TSCONFIG));
    await writeFile(join(app, 'main.ts'), APP_PROGRAM);
    await promisify(execFile)(process.execPath, [TSC, '-p', '.'], { cwd: app, timeout: 120_000 });

    expect(serverAddress, 'the installed lit-streamd (previous spec) is serving').toBeDefined();
    const { stdout } = await againstInstalledServer(process.execPath, ['out/main.js'], app);
    const report = JSON.parse(stdout) as Record<string, unknown>;
    expect(report).toMatchObject({
      started: { status: 'SUCCESS', message: 'Stream started successfully.' },
      status: { name: 'bitcoin', active: 'active', status: 'running' },
      streams: expect.arrayContaining(["Stream(team='contoso', name='bitcoin')", "Stream(team='contoso', name='ethereum')"]),
      firstEvent: { kind: 'INITIAL', name: 'bitcoin' },
      notFound: 'NOT_FOUND',
      stopped: { status: 'SUCCESS', message: 'Stream stopped successfully.' },
    });
    expect((report.status as { pid: unknown }).pid).toBeGreaterThan(0);
  });

  it("gives the app lit-streamctl (npx lit-streamctl), which needs nothing but the client's dependencies", async () => {
    expect(serverAddress, 'the installed lit-streamd is serving').toBeDefined();
    const { stdout } = await againstInstalledServer(join(app, 'node_modules', '.bin', 'lit-streamctl'), ['status', 'contoso/crash'], app).catch(
      (error: { stdout: string }) => error, // exit 3: not running
    );
    expect(stdout).toMatch(/^[○×] contoso\/crash\n {5}Loaded: /);
  });
});

/**
 * Strict settings as an app would have them. skipLibCheck stays on as `tsc --init` sets it (off,
 * checking all of @types/node costs ~4x the CPU); the program's @ts-expect-error lines prove the
 * package's declarations were read, not degraded to `any`.
 */
const APP_TSCONFIG = {
  compilerOptions: {
    target: 'ES2022',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    strict: true,
    noUncheckedIndexedAccess: true,
    exactOptionalPropertyTypes: true,
    skipLibCheck: true,
    types: ['node'],
    outDir: 'out',
  },
  files: ['main.ts'],
};

/** The seed's two-liners, typed, plus an error by code and a watch. */
const APP_PROGRAM = `
import { closeSharedClients, getStreams, GrpcStatus, LitStreamError, Stream, type ServiceActionStatus, type ServiceStatus } from '@lit-stream/client';

const stream = new Stream('contoso', 'bitcoin');
const started: ServiceActionStatus = await stream.start();
const status: ServiceStatus = await stream.status();
const streams: Stream[] = await getStreams('contoso');
// @ts-expect-error status is 'SUCCESS' | 'FAILURE', not a number: the declarations are real types
const wrong: number = started.status;
// @ts-expect-error Stream needs a team and a name
new Stream('contoso');

let firstEvent: { kind: string; name: string } | undefined;
for await (const event of stream.watch()) {
  firstEvent = { kind: event.kind, name: event.status.name };
  break;
}

let notFound: string | undefined;
try {
  await new Stream('contoso', 'dogecoin').start();
} catch (error) {
  if (error instanceof LitStreamError && error.code === GrpcStatus.NOT_FOUND) notFound = error.codeName;
}

const stopped: ServiceActionStatus = await stream.stop();
console.log(JSON.stringify({ started, status: { ...status, details: undefined }, streams: streams.map(String), firstEvent, notFound, stopped }));
closeSharedClients();
`;

async function bootSandbox(): Promise<EmbeddedSystemd> {
  const booted = await EmbeddedSystemd.boot();
  await installUnits(booted);
  return booted;
}

/** Runs a program pointed at the installed lit-streamd, as a user's shell with LIT_STREAM_ADDR would. */
function againstInstalledServer(file: string, args: string[], cwd: string): Promise<{ stdout: string; stderr: string }> {
  return promisify(execFile)(file, args, { cwd, env: { ...env, LIT_STREAM_ADDR: serverAddress }, timeout: 30_000 });
}

/** `npm pack` of this repository's root package or of a workspace; the tarball's path. */
async function pack(args: string[]): Promise<string> {
  const { stdout } = await npm(['pack', ...args, '--ignore-scripts', '--json', '--pack-destination', work], process.cwd());
  const [{ filename }] = JSON.parse(stdout) as [{ filename: string }];
  return join(work, filename);
}

function npm(args: string[], cwd: string): Promise<{ stdout: string; stderr: string }> {
  return promisify(execFile)('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], { cwd, env, timeout: 120_000 });
}
