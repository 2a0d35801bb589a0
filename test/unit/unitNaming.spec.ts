import { describe, expect, it } from 'vitest';
import { parseStreamRef } from '../../src/core/streamRef.js';
import { DEFAULT_UNIT_PREFIX, UnitNaming } from '../../src/core/unitNaming.js';

describe('unit naming', () => {
  const naming = new UnitNaming();

  it("uses the 'lit-stream-' prefix by default", () => {
    expect(DEFAULT_UNIT_PREFIX).toBe('lit-stream-');
    expect(naming.prefix).toBe('lit-stream-');
  });

  it('names stream bitcoin of team contoso lit-stream-contoso@bitcoin.service', () => {
    expect(naming.unitOf(parseStreamRef('contoso', 'bitcoin'))).toBe('lit-stream-contoso@bitcoin.service');
  });

  it("names a team's template lit-stream-<team>@.service", () => {
    expect(naming.templateOf('contoso')).toBe('lit-stream-contoso@.service');
  });

  it("matches a team's instances with the glob lit-stream-<team>@*.service", () => {
    expect(naming.teamPattern('contoso')).toBe('lit-stream-contoso@*.service');
  });

  describe('with a custom prefix', () => {
    const custom = new UnitNaming('acme_');

    it('puts the custom prefix in front of unit, template and pattern', () => {
      expect(custom.unitOf(parseStreamRef('contoso', 'bitcoin'))).toBe('acme_contoso@bitcoin.service');
      expect(custom.templateOf('contoso')).toBe('acme_contoso@.service');
      expect(custom.teamPattern('contoso')).toBe('acme_contoso@*.service');
    });

    it('reads stream names back only from units with the custom prefix', () => {
      expect(custom.streamNameOf('contoso', 'acme_contoso@bitcoin.service')).toBe('bitcoin');
      expect(custom.streamNameOf('contoso', 'lit-stream-contoso@bitcoin.service')).toBeUndefined();
    });

    it.each([['a'], ['Z9'], ['x'.repeat(64)], ['svc-'], ['7up_']])('accepts the prefix %j', (prefix) => {
      expect(new UnitNaming(prefix).prefix).toBe(prefix);
    });
  });

  describe('invalid prefixes', () => {
    it.each([
      ['an empty prefix', ''],
      ['a 65-character prefix', 'x'.repeat(65)],
      ['a prefix starting with "-"', '-lit'],
      ['a prefix starting with "_"', '_lit'],
      ['a prefix with "@"', 'lit@'],
      ['a prefix with "."', 'lit.'],
      ['a prefix with "/"', 'lit/'],
      ['a prefix with a glob "*"', 'lit*'],
      ['a prefix with a specifier "%i"', 'lit%i'],
      ['a prefix with a space', 'lit stream'],
      ['a prefix with a trailing newline', 'lit\n'],
    ])('rejects %s', (_what, prefix) => {
      expect(() => new UnitNaming(prefix)).toThrow(/unit prefix .* is invalid/);
    });
  });

  describe('reading the stream name back from a unit name', () => {
    it('returns the stream name of one of the team’s instances', () => {
      expect(naming.streamNameOf('contoso', 'lit-stream-contoso@bitcoin.service')).toBe('bitcoin');
      expect(naming.streamNameOf('contoso', 'lit-stream-contoso@BTC_usd-2.service')).toBe('BTC_usd-2');
    });

    it('round-trips every name that unitOf produces', () => {
      for (const name of ['a', 'bitcoin', 'BTC_USD', '-x-', 'y'.repeat(64)]) {
        const unit = naming.unitOf(parseStreamRef('contoso-eu', name));
        expect(naming.streamNameOf('contoso-eu', unit)).toBe(name);
      }
    });

    it('does not treat the template itself as a stream', () => {
      expect(naming.streamNameOf('contoso', 'lit-stream-contoso@.service')).toBeUndefined();
    });

    it("does not claim another team's units whose team name merely starts with ours", () => {
      expect(naming.streamNameOf('contoso', 'lit-stream-contoso-eu@x.service')).toBeUndefined();
    });

    it("does not claim units of a team whose name is a prefix of ours", () => {
      expect(naming.streamNameOf('contoso-eu', 'lit-stream-contoso@eu.service')).toBeUndefined();
    });

    it.each([
      ['a non-service unit', 'lit-stream-contoso@bitcoin.timer'],
      ['a unit with an invalid stream name', 'lit-stream-contoso@bit.coin.service'],
      ['a unit with an escaped instance', 'lit-stream-contoso@a\\x2db.service'],
      ['a unit with a second "@"', 'lit-stream-contoso@a@b.service'],
      ['a unit with a 65-character instance', `lit-stream-contoso@${'x'.repeat(65)}.service`],
      ['a unit without the prefix', 'contoso@bitcoin.service'],
      ['a plain unit', 'lit-stream-contoso.service'],
      ['an empty unit name', ''],
    ])('returns undefined for %s', (_what, unit) => {
      expect(naming.streamNameOf('contoso', unit)).toBeUndefined();
    });
  });
});

describe('which unit files can change what streams are declared', () => {
  const naming = new UnitNaming();

  it.each([
    ['a stream unit', 'lit-stream-contoso@bitcoin.service', true],
    ["a team's template", 'lit-stream-contoso@.service', true],
    ['another unit', 'nginx.service', false],
    ["an editor's copy", '.lit-stream-contoso@bitcoin.service.swp', false],
    ['a drop-in directory', 'lit-stream-contoso@bitcoin.service.d', false],
    ['a template of an invalid team', 'lit-stream-Contoso!@.service', false],
  ])('%s (%s): %s', (_what, unit, declares) => {
    expect(naming.declaresStreams(unit)).toBe(declares);
  });

  it("names the team of a template, and of nothing else", () => {
    expect(naming.teamOfTemplate('lit-stream-contoso@.service')).toBe('contoso');
    expect(naming.teamOfTemplate('lit-stream-contoso@bitcoin.service')).toBeUndefined();
  });
});
