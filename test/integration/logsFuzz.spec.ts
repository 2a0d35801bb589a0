import { BinaryWriter } from '@bufbuild/protobuf/wire';
import { Client, credentials, Metadata, type ServiceError, status } from '@grpc/grpc-js';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LogsResponse } from '../../gen/lit/stream/v1/stream.js';
import { LogsResponse as LogsResponseCodec } from '../../gen/lit/stream/v1/stream.js';
import { type Harness, startHarness, waitFor } from './harness.js';

/**
 * Every field of a Logs or ListRuns request, of any shape protobuf can carry (a `since` of any int64 seconds
 * and int32 nanos, cursors of any text and of a cursor's shape, counts of any uint32), sent as raw
 * bytes so that nothing on the client side rounds them first: the server answers OK or
 * INVALID_ARGUMENT naming the field at fault, never INTERNAL or anything else, and stays up.
 */
const RUNS = 300;

let h: Harness;
let raw: Client;
let realCursor = '';

beforeAll(async () => {
  h = await startHarness();
  await h.sandbox.withManager((m) => m.StartUnit('lit-stream-contoso@bitcoin.service', 'replace'));
  raw = new Client(h.address, credentials.createInsecure());
  await waitFor(async () => (realCursor = (await logs({ team: 'contoso', name: 'bitcoin', tailLines: 1 })).cursor ?? '') !== '', 10_000, 'a line of bitcoin');
});

afterAll(async () => {
  raw?.close();
  await h?.stop();
});

interface RawLogsRequest {
  team: string;
  name: string;
  tailLines?: number;
  follow?: boolean;
  since?: { seconds: bigint; nanos: number };
  afterCursor?: string;
  host?: string;
}

/** LogsRequest's wire format, field by field (stream.proto's numbers). */
function encode(request: RawLogsRequest): Buffer {
  const writer = new BinaryWriter();
  writer.uint32(10).string(request.team);
  writer.uint32(18).string(request.name);
  if (request.tailLines !== undefined) writer.uint32(24).uint32(request.tailLines);
  if (request.follow) writer.uint32(32).bool(true);
  if (request.since) writer.uint32(42).fork().uint32(8).int64(request.since.seconds).uint32(16).int32(request.since.nanos).join();
  if (request.afterCursor !== undefined) writer.uint32(50).string(request.afterCursor);
  if (request.host !== undefined) writer.uint32(58).string(request.host);
  return Buffer.from(writer.finish());
}

/** A Logs call's end: its code and details, and its last cursor. A follow is cancelled after its first message. */
function logs(request: RawLogsRequest): Promise<{ code: status; details: string; cursor?: string }> {
  return new Promise((resolve) => {
    let cursor: string | undefined;
    const call = raw.makeServerStreamRequest(
      '/lit.stream.v1.StreamService/Logs',
      (value: Buffer) => value,
      (bytes: Buffer) => LogsResponseCodec.decode(bytes),
      encode(request),
      new Metadata(),
      { deadline: Date.now() + (request.follow ? 500 : 20_000) },
    );
    call.on('data', (response: LogsResponse) => {
      cursor = response.entries.at(-1)?.cursor ?? cursor;
      if (request.follow) call.cancel();
    });
    call.on('error', (error: ServiceError) => resolve({ code: error.code, details: error.details, cursor }));
    call.on('end', () => resolve({ code: status.OK, details: '', cursor }));
  });
}

const text = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 80 }),
  fc.string({ unit: 'binary', maxLength: 80 }),
  fc.constantFrom('', '--all', '-n', 's=', ';', 's=1;i=2', `s=${'f'.repeat(65)}`, '\u0000', 'x'.repeat(600)),
);
const cursorShaped = fc.stringMatching(/^[a-z]=[0-9a-f]{1,64}(?:;[a-z]=[0-9a-f]{1,64}){0,8}$/);
/** Real cursors, whole or with one part changed. */
const nearReal = fc.tuple(fc.nat(), fc.stringMatching(/^[0-9a-f]{1,20}$/)).map(([at, hex]) => {
  const parts = realCursor.split(';');
  const index = at % parts.length;
  parts[index] = `${parts[index]!.split('=')[0]}=${hex}`;
  return at % 3 === 0 ? realCursor : parts.join(';');
});
const int64 = fc.oneof(
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
  fc.bigInt({ min: -100_000_000_000n, max: 300_000_000_000n }),
  fc.constantFrom(0n, -1n, 1_000_000_000_000_000n, 253402300799n, 253402300800n, -62135596800n, -62135596801n, 2n ** 53n),
);
const request = fc.record(
  {
    tailLines: fc.oneof(fc.nat({ max: 20 }), fc.constantFrom(0, 10_000, 10_001, 2 ** 31, 2 ** 32 - 1)),
    follow: fc.boolean(),
    since: fc.record({ seconds: int64, nanos: fc.oneof(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), fc.nat({ max: 999_999_999 })) }),
    afterCursor: fc.oneof(text, cursorShaped, nearReal),
    host: text,
  },
  { requiredKeys: [] },
);

/** What an INVALID_ARGUMENT may say: the field at fault first. */
const NAMES_A_FIELD = /^(since|after_cursor|tail_lines|host|team|stream name)\b/;

describe(`fuzzing every field of Logs (${RUNS} generated requests)`, () => {
  it('answers OK or INVALID_ARGUMENT naming the field, never INTERNAL, and stays up', async () => {
    await fc.assert(
      fc.asyncProperty(request, async (fields) => {
        const outcome = await logs({ team: 'contoso', name: 'bitcoin', ...fields });
        const what = `${JSON.stringify(fields, (_, v) => (typeof v === 'bigint' ? String(v) : v)).slice(0, 300)} → ${status[outcome.code]}: ${outcome.details}`;
        if (outcome.code === status.INVALID_ARGUMENT) expect(outcome.details, what).toMatch(NAMES_A_FIELD);
        // A host other than this server's own is not served here (the fleet gateway serves others).
        else if (outcome.code === status.NOT_FOUND && fields.host) expect(outcome.details, what).toMatch(/^host /);
        else if (fields.follow) expect([status.OK, status.CANCELLED, status.DEADLINE_EXCEEDED], what).toContain(outcome.code);
        else expect(outcome.code, what).toBe(status.OK);
      }),
      { numRuns: RUNS },
    );
    expect((await logs({ team: 'contoso', name: 'bitcoin', tailLines: 1 })).code).toBe(status.OK);
  }, 300_000);

  it('ListRuns: answers OK for a limit of any size, NOT_FOUND for a host not served here, and INVALID_ARGUMENT naming a bad field', async () => {
    const listRuns = (fields: { team: string; name: string; limit?: number; host?: string }) => {
      const writer = new BinaryWriter();
      writer.uint32(10).string(fields.team).uint32(18).string(fields.name);
      if (fields.host !== undefined) writer.uint32(26).string(fields.host);
      if (fields.limit !== undefined) writer.uint32(32).uint32(fields.limit);
      return new Promise<{ code: status; details: string }>((resolve) =>
        raw.makeUnaryRequest(
          '/lit.stream.v1.StreamService/ListRuns',
          (value: Buffer) => value,
          (bytes: Buffer) => bytes,
          Buffer.from(writer.finish()),
          new Metadata(),
          { deadline: Date.now() + 20_000 },
          (error) => resolve(error ? { code: error.code ?? status.UNKNOWN, details: error.details ?? '' } : { code: status.OK, details: '' }),
        ),
      );
    };
    await fc.assert(
      fc.asyncProperty(
        fc.record({ limit: fc.oneof(fc.nat({ max: 200 }), fc.constantFrom(2 ** 31, 2 ** 32 - 1)), host: text }, { requiredKeys: [] }),
        fc.oneof(fc.constant({ team: 'contoso', name: 'bitcoin' }), fc.record({ team: text, name: text })),
        async (fields, ref) => {
          const outcome = await listRuns({ ...ref, ...fields });
          const what = `${JSON.stringify({ ...ref, ...fields }).slice(0, 200)} → ${status[outcome.code]}: ${outcome.details}`;
          if (ref.team === 'contoso' && ref.name === 'bitcoin' && !fields.host) expect(outcome.code, what).toBe(status.OK);
          else expect([status.OK, status.INVALID_ARGUMENT, status.NOT_FOUND], what).toContain(outcome.code);
          if (outcome.code === status.INVALID_ARGUMENT) expect(outcome.details, what).toMatch(NAMES_A_FIELD);
        },
      ),
      { numRuns: 150 },
    );
  }, 300_000);

  it('refuses a since beyond what a Timestamp holds, by name', async () => {
    for (const seconds of [1_000_000_000_000_000n, 2n ** 62n, -(2n ** 62n), 253402300800n]) {
      const outcome = await logs({ team: 'contoso', name: 'bitcoin', since: { seconds, nanos: 0 } });
      expect(outcome.code, String(seconds)).toBe(status.INVALID_ARGUMENT);
      expect(outcome.details).toMatch(/^since is out of range/);
    }
  });
});
