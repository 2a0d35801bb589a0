import type { Readable } from 'node:stream';
import { journalEntryOf, type JournalEntry, MESSAGE_MAX_BYTES, parseJournalJson } from './journalEntry.js';

/**
 * Longest line of `journalctl -o json` parsed whole. journalctl prints each entry on one line
 * (it escapes newlines inside strings), with every field in full (`--all`): a worker that logs
 * through the journal's native protocol can send a MESSAGE of many megabytes. A longer line is
 * read field by field instead (LongLineReader), keeping the beginning of each field, so memory
 * stays bounded and the entry still comes out, its MESSAGE cut with the usual marker.
 */
export const MAX_LINE_BYTES = 1024 * 1024;

/**
 * The entries of journalctl's JSON output, one per line, as fast as the caller takes them (the
 * pipe is read only as the caller iterates, so a slow consumer holds journalctl back rather than
 * filling memory). Lines that are not entries are skipped.
 */
export async function* journalEntries(stream: Readable, maxLineBytes = MAX_LINE_BYTES): AsyncGenerator<JournalEntry> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let long: LongLineReader | undefined;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    let start = 0;
    for (let newline = chunk.indexOf(0x0a); newline >= 0; newline = chunk.indexOf(0x0a, start)) {
      const piece = chunk.subarray(start, newline);
      start = newline + 1;
      let entry: JournalEntry | undefined;
      if (!long && pendingBytes + piece.length > maxLineBytes) {
        long = new LongLineReader();
        for (const held of pending) long.feed(held);
      }
      if (long) {
        long.feed(piece);
        entry = long.entry();
        long = undefined;
      } else {
        entry = parseJournalJson(Buffer.concat([...pending, piece]).toString('utf8'));
      }
      pending = [];
      pendingBytes = 0;
      if (entry) yield entry;
    }
    if (start >= chunk.length) continue;
    const rest = chunk.subarray(start);
    if (long) {
      long.feed(rest);
      continue;
    }
    pending.push(rest);
    pendingBytes += rest.length;
    if (pendingBytes > maxLineBytes) {
      long = new LongLineReader();
      for (const piece of pending) long.feed(piece);
      pending = [];
      pendingBytes = 0;
    }
  }
  const last = long ? long.entry() : pendingBytes > 0 ? parseJournalJson(Buffer.concat(pending).toString('utf8')) : undefined;
  if (last) yield last;
}

/** Raw JSON kept of MESSAGE: enough for MESSAGE_MAX_BYTES of text even if every byte were escaped. */
const MESSAGE_RAW_BYTES = MESSAGE_MAX_BYTES * 6 + 16;
/** Raw JSON kept of any other field (cursors, unit names, ids are far shorter). */
const FIELD_RAW_BYTES = 4096;
/** Field names are short upper-case words; a longer one is not kept. */
const KEY_BYTES = 256;

interface Field {
  /** The value's JSON text as far as it was kept (its first `rawBytes`), from its first byte (`"`, `[`, `n`...). */
  readonly raw: Buffer;
  rawBytes: number;
  /** Where the kept text last ended outside an escape sequence (for a string value cut short). */
  safeBytes: number;
  truncated: boolean;
  /** The value's length in bytes once decoded: a string's UTF-8 bytes, or the numbers of a byte array. */
  decodedBytes: number;
}

type State = 'object' | 'key' | 'colon' | 'value' | 'string' | 'array' | 'literal' | 'done';

/**
 * One line of `journalctl -o json` too long to parse whole, read byte by byte as it comes: an
 * object of fields whose values are strings, arrays (of byte numbers, or of strings for a field
 * with several values) or null. journalctl escapes only `"`, `\` and control characters in
 * strings (each escape stands for one byte) and prints any value that is not UTF-8 as an array of
 * bytes, so a value's decoded length is counted exactly while only its beginning is kept.
 */
export class LongLineReader {
  private readonly fields = new Map<string, Field>();
  private state: State = 'object';
  private key: number[] = [];
  private field: Field | undefined;
  private escaped = false;
  /** Hex digits of a `\uXXXX` escape still to come. */
  private escapeDigits = 0;
  private inString = false;
  private depth = 0;

  feed(chunk: Buffer): void {
    for (const byte of chunk) this.step(byte);
  }

  /** The entry read, its MESSAGE cut and marked if it was longer than kept; undefined if not an entry. */
  entry(maxMessageBytes = MESSAGE_MAX_BYTES): JournalEntry | undefined {
    const values: Record<string, unknown> = {};
    for (const [key, field] of this.fields) {
      const value = parseKept(field);
      if (value !== undefined) values[key] = value;
    }
    const message = this.fields.get('MESSAGE');
    return journalEntryOf(values, maxMessageBytes, message?.decodedBytes);
  }

  private step(byte: number): void {
    switch (this.state) {
      case 'object':
        if (byte === 0x22) {
          this.state = 'key';
          this.key = [];
        } else if (byte === 0x7d) this.state = 'done';
        return;
      case 'key':
        if (byte === 0x22) this.state = 'colon';
        else if (this.key.length < KEY_BYTES) this.key.push(byte);
        return;
      case 'colon':
        if (byte === 0x3a) this.state = 'value';
        return;
      case 'value':
        if (byte !== 0x20) this.startValue(byte);
        return;
      case 'string':
        return this.stringByte(byte);
      case 'array':
        return this.arrayByte(byte);
      case 'literal':
        if (byte === 0x2c || byte === 0x7d) {
          this.state = byte === 0x2c ? 'object' : 'done';
        } else this.keep(byte);
        return;
      case 'done':
        return;
    }
  }

  private startValue(byte: number): void {
    const key = Buffer.from(this.key).toString('latin1');
    const budget = key === 'MESSAGE' ? MESSAGE_RAW_BYTES : FIELD_RAW_BYTES;
    this.field = { raw: Buffer.allocUnsafe(budget), rawBytes: 0, safeBytes: 0, truncated: false, decodedBytes: 0 };
    this.fields.set(key, this.field);
    this.keep(byte);
    this.escaped = false;
    this.escapeDigits = 0;
    this.inString = false;
    this.depth = 1;
    this.state = byte === 0x22 ? 'string' : byte === 0x5b ? 'array' : 'literal';
  }

  private stringByte(byte: number): void {
    const field = this.field!;
    this.keep(byte);
    if (this.escaped) {
      // `\uXXXX` is one escape too: the four digits that follow are not counted on their own.
      if (byte === 0x75) {
        this.escaped = false;
        this.escapeDigits = 4;
      } else this.endEscape(field);
      return;
    }
    if (this.escapeDigits > 0) {
      if (--this.escapeDigits === 0) this.endEscape(field);
      return;
    }
    if (byte === 0x5c) {
      this.escaped = true;
      return;
    }
    if (byte === 0x22) {
      this.state = 'object';
      return;
    }
    field.decodedBytes++;
    if (!field.truncated) field.safeBytes = field.rawBytes;
  }

  private endEscape(field: Field): void {
    this.escaped = false;
    field.decodedBytes++;
    if (!field.truncated) field.safeBytes = field.rawBytes;
  }

  private arrayByte(byte: number): void {
    const field = this.field!;
    this.keep(byte);
    if (this.inString) {
      if (this.escaped) this.escaped = false;
      else if (byte === 0x5c) this.escaped = true;
      else if (byte === 0x22) this.inString = false;
      return;
    }
    if (byte === 0x22) this.inString = true;
    else if (byte === 0x5b) this.depth++;
    else if (byte === 0x5d) {
      if (--this.depth === 0) {
        field.decodedBytes++;
        this.state = 'object';
      }
    } else if (byte === 0x2c && this.depth === 1) {
      field.decodedBytes++;
      if (!field.truncated) field.safeBytes = field.rawBytes - 1;
    }
  }

  /** Keeps a byte of the current value while it is within its field's budget. */
  private keep(byte: number): void {
    const field = this.field!;
    if (field.truncated) return;
    if (field.rawBytes >= field.raw.length) {
      field.truncated = true;
      return;
    }
    field.raw[field.rawBytes++] = byte;
  }
}

/** A kept value as JSON.parse gives it; a string or byte array cut short is closed where it was cut. */
function parseKept(field: Field): unknown {
  const raw = field.raw.subarray(0, field.rawBytes);
  const text = field.truncated ? closeCut(raw.subarray(0, field.safeBytes)) : raw.toString('utf8');
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function closeCut(raw: Buffer): string | undefined {
  if (raw[0] === 0x22) return `${raw.toString('utf8')}"`;
  if (raw[0] === 0x5b) return `${raw.toString('utf8')}]`;
  return undefined;
}
