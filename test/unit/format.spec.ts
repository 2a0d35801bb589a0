import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { formatBytes, formatTimestamp } from '../../clients/typescript/src/format.js';

/** The test vectors the Python client's tests read too (clients/python/tests/test_format.py). */
interface FormatVectors {
  readonly bytes: readonly { readonly bytes: number; readonly formatted: string; readonly why?: string }[];
  readonly timestamps: readonly { readonly instant: string; readonly zone: string; readonly formatted: string; readonly why?: string }[];
}
const vectors = JSON.parse(readFileSync(new URL('../../clients/testdata/format.json', import.meta.url), 'utf8')) as FormatVectors;

describe('formatBytes (as systemctl status prints memory)', () => {
  it.each(vectors.bytes.map((v) => [v.bytes, v.formatted, v.why ?? ''] as const))('formats %d bytes as %s %s', (bytes, formatted) => {
    expect(formatBytes(bytes)).toBe(formatted);
  });
});

describe('formatTimestamp (as systemctl status prints times)', () => {
  it.each(vectors.timestamps.map((v) => [v.instant, v.zone, v.formatted, v.why ?? ''] as const))(
    'formats %s in %s as %s %s',
    (instant, zone, formatted) => {
      expect(formatTimestamp(new Date(instant), zone)).toBe(formatted);
    },
  );
});
