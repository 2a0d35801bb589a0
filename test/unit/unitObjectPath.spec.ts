import { describe, expect, it } from 'vitest';
import { unitObjectPath } from '../../src/systemd/unitObjectPath.js';

const ROOT = '/org/freedesktop/systemd1/unit/';

describe("a unit's D-Bus object path", () => {
  it('escapes "-", "@" and "." of a stream unit as _2d, _40 and _2e', () => {
    expect(unitObjectPath('lit-stream-contoso@bitcoin.service')).toBe(
      '/org/freedesktop/systemd1/unit/lit_2dstream_2dcontoso_40bitcoin_2eservice',
    );
  });

  it('escapes "_" as _5f so escaped and literal text cannot collide', () => {
    expect(unitObjectPath('a_b.service')).toBe(`${ROOT}a_5fb_2eservice`);
    expect(unitObjectPath('a_5fb.service')).not.toBe(unitObjectPath('a_b.service'));
  });

  it('keeps letters and digits after the first character as they are', () => {
    expect(unitObjectPath('Abc123')).toBe(`${ROOT}Abc123`);
  });

  it('escapes a digit in first place, as systemd does (a prefix like "7up-")', () => {
    expect(unitObjectPath('7up-contoso@x.service')).toBe(`${ROOT}_37up_2dcontoso_40x_2eservice`);
  });

  it('escapes with two lower-case hex digits, including control characters', () => {
    expect(unitObjectPath('a\tb')).toBe(`${ROOT}a_09b`);
    expect(unitObjectPath('a\\x2db')).toBe(`${ROOT}a_5cx2db`);
  });

  it('escapes each UTF-8 byte of a non-ASCII character', () => {
    expect(unitObjectPath('é')).toBe(`${ROOT}_c3_a9`);
  });

  it("uses '_' for the empty name", () => {
    expect(unitObjectPath('')).toBe('/org/freedesktop/systemd1/unit/_');
  });

  it('only ever produces characters D-Bus allows in an object path element', () => {
    const label = unitObjectPath('weird name/with:every*kind?of[char]%i~é\u0000.service').slice(ROOT.length);
    expect(label).toMatch(/^[A-Za-z0-9_]+$/);
  });
});
