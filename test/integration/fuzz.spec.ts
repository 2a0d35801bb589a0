import { type ServiceError, status } from '@grpc/grpc-js';
import fc from 'fast-check';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashToken } from '../../src/auth/index.js';
import { callMetadata } from '../../clients/typescript/src/index.js';
import { SystemdManager } from '../../src/systemd/manager.js';
import { type Harness, startHarness } from './harness.js';

/**
 * Property-based fuzzing of every RPC's team and name against the real server and sandbox systemd,
 * as an operator of team `contoso`: whatever the input, the call ends in INVALID_ARGUMENT,
 * NOT_FOUND or PERMISSION_DENIED, the server stays up, and the systemd adapter is never asked about
 * any unit but declared `lit-stream-<team>@<name>.service` units (or the view's own glob).
 */

const RUNS = 10_000;
const TOKEN = 'fuzz-operator-token';
const DECLARED = new Set(['bitcoin', 'ethereum', 'crash', 'slow', 'masked']);

/** Every unit name the adapter was asked about, recorded by wrapping SystemdManager's methods. */
const asked = new Set<string>();
const patterns = new Set<string>();
let h: Harness;
let dir: string;
const restores: (() => void)[] = [];

beforeAll(async () => {
  for (const method of ['StartUnit', 'StopUnit', 'RestartUnit', 'GetUnitProcesses', 'getUnitProperties', 'getUnitPropertiesInOrder', 'getUnitProperty'] as const) {
    const original = SystemdManager.prototype[method] as (this: SystemdManager, unit: string, ...rest: unknown[]) => Promise<unknown>;
    (SystemdManager.prototype as unknown as Record<string, unknown>)[method] = function (this: SystemdManager, unit: string, ...rest: unknown[]) {
      asked.add(unit);
      return original.call(this, unit, ...rest);
    };
    restores.push(() => ((SystemdManager.prototype as unknown as Record<string, unknown>)[method] = original));
  }
  for (const method of ['ListUnitFilesByPatterns', 'ListUnitsByPatternsInOrder'] as const) {
    const original = SystemdManager.prototype[method] as (this: SystemdManager, states: string[], globs: string[]) => Promise<unknown>;
    (SystemdManager.prototype as unknown as Record<string, unknown>)[method] = function (this: SystemdManager, states: string[], globs: string[]) {
      for (const glob of globs) patterns.add(glob);
      return original.call(this, states, globs);
    };
    restores.push(() => ((SystemdManager.prototype as unknown as Record<string, unknown>)[method] = original));
  }
  dir = await mkdtemp(join(tmpdir(), 'lit-stream-fuzz-'));
  await writeFile(join(dir, 'access.json'), JSON.stringify({ tokens: [{ name: 'fuzzer', sha256: hashToken(TOKEN) }], certificates: [], grants: { fuzzer: { contoso: 'operator' } } }));
  h = await startHarness(undefined, { accessFile: join(dir, 'access.json') });
});

afterAll(async () => {
  for (const restore of restores) restore();
  await h?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

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
const rpc = fc.constantFrom('start', 'stop', 'restart', 'getStatus', 'listStreams', 'watchStatus');

function call(method: string, request: { team: string; name: string }): Promise<status> {
  const metadata = callMetadata({ token: TOKEN });
  const options = { deadline: Date.now() + 20_000 };
  const client = h.client;
  if (method === 'watchStatus') {
    return new Promise((resolve) => {
      const stream = client.watchStatus(request, metadata, options);
      stream.on('data', () => {
        stream.cancel();
        resolve(status.OK);
      });
      stream.on('error', (error: ServiceError) => resolve(error.code === status.CANCELLED ? status.OK : error.code));
    });
  }
  const fn = (client as unknown as Record<string, (req: object, md: object, opts: object, cb: (e: ServiceError | null) => void) => void>)[method]!;
  const req = method === 'listStreams' ? { team: request.team, pageSize: 0, pageToken: '' } : request;
  return new Promise((resolve) => fn.call(client, req, metadata, options, (error) => resolve(error ? error.code : status.OK)));
}

const ALLOWED = new Set([status.INVALID_ARGUMENT, status.NOT_FOUND, status.PERMISSION_DENIED]);

describe(`fuzzing team and name of every RPC (${RUNS} generated pairs)`, () => {
  it('ends every call in INVALID_ARGUMENT, NOT_FOUND or PERMISSION_DENIED, and never asks systemd about a foreign unit', async () => {
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(rpc, team, text, async (method, teamInput, nameInput) => {
        runs++;
        // A well-formed request for one of contoso's declared streams is allowed to succeed.
        const legitimate = teamInput === 'contoso' && (DECLARED.has(nameInput) || (method === 'listStreams') || (method === 'watchStatus' && nameInput === ''));
        const code = await call(method, { team: teamInput, name: nameInput });
        if (legitimate) return;
        expect(ALLOWED.has(code), `${method}(${JSON.stringify(teamInput).slice(0, 60)}, ${JSON.stringify(nameInput).slice(0, 60)}) → ${status[code]}`).toBe(true);
      }),
      { numRuns: RUNS },
    );
    expect(runs).toBe(RUNS);
    const declaredUnits = new Set([...[...DECLARED].map((n) => `lit-stream-contoso@${n}.service`), 'lit-stream-contoso-eu@secret.service']);
    for (const unit of asked) expect(declaredUnits.has(unit), `asked about ${unit}`).toBe(true);
    for (const glob of patterns) {
      expect(['lit-stream-*@*.service', ...[...DECLARED].map((n) => `lit-stream-contoso@${n}.service`)]).toContain(glob);
    }
  }, 300_000);

  it('answers 1 MB names and teams with INVALID_ARGUMENT, and stays up', async () => {
    const huge = 'x'.repeat(1024 * 1024);
    for (const method of ['start', 'getStatus', 'watchStatus']) {
      expect(await call(method, { team: 'contoso', name: huge })).toBe(status.INVALID_ARGUMENT);
      expect(await call(method, { team: huge, name: 'bitcoin' })).toBe(status.INVALID_ARGUMENT);
    }
    expect(await call('getStatus', { team: 'contoso', name: 'bitcoin' })).toBe(status.OK);
  });
});
