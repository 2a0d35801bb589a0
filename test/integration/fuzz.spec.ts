import { type ServiceError, status } from '@grpc/grpc-js';
import fc from 'fast-check';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashToken } from '../../src/auth/index.js';
import { callMetadata } from '../../clients/typescript/src/index.js';
import { StreamServiceService } from '../../gen/lit/stream/v1/stream.js';
import { unitNameOfObjectPath } from '../../src/systemd/unitObjectPath.js';
import { currentSession, monitorBus } from './faults.js';
import { type Harness, startHarness } from './harness.js';

/**
 * Property-based fuzzing of every RPC's team and name against the real server and sandbox systemd,
 * as an operator of team `contoso`: whatever the input, the call ends in INVALID_ARGUMENT,
 * NOT_FOUND or PERMISSION_DENIED, the server stays up, and it never names any unit but declared
 * `lit-stream-<team>@<name>.service` units (or the view's own glob) to systemd — watched on the
 * bus, every call the server makes — or to journalctl (which Logs runs with the unit name).
 */

const RUNS = 10_000;
const TOKEN = 'fuzz-operator-token';
const DECLARED = new Set(['bitcoin', 'ethereum', 'crash', 'slow', 'masked']);

let h: Harness;
let dir: string;
let monitor: Awaited<ReturnType<typeof monitorBus>>;
let journalctlLog: string;
const path = process.env.PATH;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lit-stream-fuzz-'));
  await writeFile(join(dir, 'access.json'), JSON.stringify({ tokens: [{ name: 'fuzzer', sha256: hashToken(TOKEN) }], certificates: [], grants: { fuzzer: { contoso: 'operator' } } }));
  // The journalctl the server finds first on its PATH: the real one, after noting its arguments.
  journalctlLog = join(dir, 'journalctl.args');
  const real = execFileSync('sh', ['-c', 'command -v journalctl']).toString().trim();
  await mkdir(join(dir, 'bin'));
  await writeFile(join(dir, 'bin', 'journalctl'), `#!/bin/sh\nfor arg in "$@"; do printf '%s\\n' "$arg"; done >> '${journalctlLog}'\nexec '${real}' "$@"\n`, { mode: 0o755 });
  process.env.PATH = `${join(dir, 'bin')}:${path}`;
  h = await startHarness(undefined, { accessFile: join(dir, 'access.json') });
  // Every call the server makes on the bus from here on.
  monitor = await monitorBus(h.sandbox, [`type='method_call',sender='${currentSession(h)!.connection.uniqueName}'`]);
});

afterAll(async () => {
  process.env.PATH = path;
  monitor?.stop();
  await h?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/**
 * Every unit name and glob the server named to systemd or journalctl: object paths of units, the
 * arguments of systemd's methods that name units, and the units of journalctl's matches
 * (`_SYSTEMD_USER_UNIT=…`, `USER_UNIT=…` and the like; src/systemd/journalctl.ts).
 */
async function unitsNamed(): Promise<Set<string>> {
  await monitor.caughtUp();
  const named = new Set<string>();
  const collect = (value: unknown): void => {
    if (typeof value === 'string' && value.endsWith('.service')) named.add(value);
    else if (Array.isArray(value)) value.forEach(collect);
  };
  for (const message of monitor.messages) {
    const unit = unitNameOfObjectPath(message.path ?? '');
    if (unit !== undefined) named.add(unit);
    if (message.interface === 'org.freedesktop.systemd1.Manager') collect(message.body);
  }
  const args = await readFile(journalctlLog, 'utf8').catch(() => '');
  for (const arg of args.split('\n')) {
    const unit = /^(?:--(?:user-)?unit|_SYSTEMD_(?:USER_)?UNIT|(?:USER_)?UNIT|OBJECT_SYSTEMD_(?:USER_)?UNIT|COREDUMP_(?:USER_)?UNIT)=(.*)$/.exec(arg)?.[1];
    if (unit !== undefined) named.add(unit);
  }
  return named;
}

const tricky = fc.constantFrom(
  '', '.', '..', '../../etc/passwd', '/', '\\', '*', '?', '[a-z]', 'bitcoin*', 'bit?oin', '@', 'a@b', 'x.service', 'bitcoin.service',
  '%i', '%n', '%H', '-', '--', '-bitcoin', 'bitcoin-', ' bitcoin', 'bitcoin\n', '\u0000', '\u202e', 'ｂｉｔｃｏｉｎ', 'BITCOIN', 'контосо',
  'contoso-eu', 'contoso@bitcoin', 'lit-stream-contoso@bitcoin', 'a'.repeat(33), 'b'.repeat(65),
);
const text = fc.oneof(
  { weight: 3, arbitrary: fc.string({ unit: 'grapheme', maxLength: 80 }) },
  { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 80 }) },
  { weight: 2, arbitrary: fc.stringMatching(/^[a-z0-9-]{1,40}$/) },
  { weight: 2, arbitrary: fc.stringMatching(/^[A-Za-z0-9_@.%*?\\/-]{1,70}$/) },
  { weight: 3, arbitrary: tricky },
);
const team = fc.oneof({ weight: 1, arbitrary: fc.constant('contoso') }, { weight: 3, arbitrary: text });
/** Every RPC of StreamService, as the generated service definition lists them: a new one is fuzzed too. */
const RPCS = Object.keys(StreamServiceService);
const rpc = fc.constantFrom(...RPCS);

function call(method: string, request: { team: string; name: string }): Promise<status> {
  const metadata = callMetadata({ token: TOKEN });
  const options = { deadline: Date.now() + 20_000 };
  const client = h.client;
  if (method === 'watchStatus' || method === 'logs') {
    return new Promise((resolve) => {
      const stream = method === 'logs' ? client.logs({ ...request, follow: false, afterCursor: '' }, metadata, options) : client.watchStatus(request, metadata, options);
      stream.on('data', () => {
        stream.cancel();
        resolve(status.OK);
      });
      stream.on('error', (error: ServiceError) => resolve(error.code === status.CANCELLED ? status.OK : error.code));
      stream.on('end', () => resolve(status.OK));
    });
  }
  const fn = (client as unknown as Record<string, (req: object, md: object, opts: object, cb: (e: ServiceError | null) => void) => void>)[method]!;
  const req = method === 'listStreams' ? { team: request.team, pageSize: 0, pageToken: '' } : request;
  return new Promise((resolve) => fn.call(client, req, metadata, options, (error) => resolve(error ? error.code : status.OK)));
}

/** Every RPC is built: UNIMPLEMENTED, like INTERNAL, is never an answer to bad input. */
const ALLOWED = new Set([status.INVALID_ARGUMENT, status.NOT_FOUND, status.PERMISSION_DENIED]);

describe(`fuzzing team and name of every RPC (${RUNS} generated pairs)`, () => {
  it('ends every call in INVALID_ARGUMENT, NOT_FOUND or PERMISSION_DENIED, and never asks systemd about a foreign unit', async () => {
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(rpc, team, text, async (method, teamInput, nameInput) => {
        runs++;
        // A well-formed request for one of contoso's declared streams is allowed to succeed.
        const legitimate = teamInput === 'contoso' && (DECLARED.has(nameInput) || method === 'listStreams' || (method === 'watchStatus' && nameInput === ''));
        const code = await call(method, { team: teamInput, name: nameInput });
        if (legitimate) return;
        expect(ALLOWED.has(code), `${method}(${JSON.stringify(teamInput).slice(0, 60)}, ${JSON.stringify(nameInput).slice(0, 60)}) → ${status[code]}`).toBe(true);
      }),
      { numRuns: RUNS },
    );
    expect(runs).toBe(RUNS);
    // Declared units (contoso's, and contoso-eu's one the view reads too) and the view's glob.
    // (journalctl's matches also name who writes about a unit: its user manager's init.scope and journald.)
    const allowed = new Set([
      ...[...DECLARED].map((n) => `lit-stream-contoso@${n}.service`),
      'lit-stream-contoso-eu@secret.service',
      'lit-stream-*@*.service',
      'init.scope',
      'systemd-journald.service',
    ]);
    // Then legitimate calls, which name bitcoin's unit to both: the watching sees what it should.
    expect(await call('start', { team: 'contoso', name: 'bitcoin' })).toBe(status.OK);
    expect(await call('logs', { team: 'contoso', name: 'bitcoin' })).toBe(status.OK);
    const named = await unitsNamed();
    expect([...named].filter((unit) => !allowed.has(unit))).toEqual([]);
    expect(monitor.messages.some((m) => m.member === 'StartUnit' && m.body[0] === 'lit-stream-contoso@bitcoin.service')).toBe(true);
    expect(await readFile(journalctlLog, 'utf8')).toContain('_SYSTEMD_USER_UNIT=lit-stream-contoso@bitcoin.service');
  }, 300_000);

  it('answers 1 MB names and teams with INVALID_ARGUMENT, and stays up', async () => {
    const huge = 'x'.repeat(1024 * 1024);
    for (const method of ['start', 'getStatus', 'watchStatus', 'logs']) {
      expect(await call(method, { team: 'contoso', name: huge })).toBe(status.INVALID_ARGUMENT);
      expect(await call(method, { team: huge, name: 'bitcoin' })).toBe(status.INVALID_ARGUMENT);
    }
    expect(await call('getStatus', { team: 'contoso', name: 'bitcoin' })).toBe(status.OK);
  });
});
