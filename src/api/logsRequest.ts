import { BinaryReader, BinaryWriter } from '@bufbuild/protobuf/wire';
import { InvalidArgumentError } from '../core/errors.js';
import { LogsRequest } from '../../gen/lit/stream/v1/stream.js';

/** LogsRequest.since's field number (proto/lit/stream/v1/stream.proto). */
const SINCE_FIELD = 5;

/** The range a google.protobuf.Timestamp may hold (timestamp.proto), in ms since the epoch. */
const FIRST_MS = Date.parse('0001-01-01T00:00:00Z');
const LAST_MS = Date.parse('9999-12-31T23:59:59.999Z');

/**
 * A LogsRequest as grpc-js hands it to the handler. ts-proto's decoder throws on a `since` whose
 * seconds lie beyond ±2^53 (its longToNumber), and grpc-js answers a request its deserializer
 * throws on with INTERNAL: such a request is decoded without `since`, which is left as an invalid
 * date for sinceOf() to refuse by name.
 */
export function decodeLogsRequest(bytes: Buffer): LogsRequest {
  try {
    return LogsRequest.decode(bytes);
  } catch (error) {
    if (!/SAFE_INTEGER/.test((error as Error).message)) throw error;
    return { ...LogsRequest.decode(withoutField(bytes, SINCE_FIELD)), since: new Date(Number.NaN) };
  }
}

/** The encoded message without any occurrence of one field. */
function withoutField(bytes: Uint8Array, field: number): Uint8Array {
  const reader = new BinaryReader(bytes);
  const writer = new BinaryWriter();
  while (reader.pos < reader.len) {
    const start = reader.pos;
    const [number, type] = reader.tag();
    reader.skip(type, number);
    if (number !== field) writer.raw(bytes.subarray(start, reader.pos));
  }
  return writer.finish();
}

/**
 * `since` in µs since the epoch: a Timestamp outside its documented range (years 1 to 9999) is
 * refused, naming the field, rather than turned into a number no clock has.
 */
export function sinceOf(since: Date | undefined): bigint | undefined {
  if (since === undefined) return undefined;
  const ms = since.getTime();
  if (!Number.isFinite(ms) || ms < FIRST_MS || ms > LAST_MS) {
    throw new InvalidArgumentError('since is out of range: a google.protobuf.Timestamp from 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z');
  }
  return BigInt(ms) * 1000n;
}
