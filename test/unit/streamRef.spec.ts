import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/core/errors.js';
import { isValidStreamName, parseStreamName, parseStreamRef, parseTeam } from '../../src/core/streamRef.js';

function rejection(run: () => unknown): InvalidArgumentError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidArgumentError);
    return error as InvalidArgumentError;
  }
  throw new Error('expected an InvalidArgumentError, but nothing was thrown');
}

describe('stream references (team + stream name)', () => {
  describe('accepted teams', () => {
    it.each([
      ['contoso'],
      ['contoso-eu'],
      ['a'],
      ['7'],
      ['team-42'],
      ['a'.repeat(32)],
      ['a' + '-'.repeat(30) + 'b'],
    ])('accepts the team %j', (team) => {
      expect(parseTeam(team)).toBe(team);
    });
  });

  describe('accepted stream names', () => {
    it.each([
      ['bitcoin'],
      ['B'],
      ['BTC_USD'],
      ['btc-usd'],
      ['_leading-underscore'],
      ['-leading-dash'],
      ['trailing_'],
      ['Mixed_Case-123'],
      ['x'.repeat(64)],
    ])('accepts the stream name %j', (name) => {
      expect(parseStreamName(name)).toBe(name);
      expect(isValidStreamName(name)).toBe(true);
    });
  });

  it('returns a frozen reference holding exactly the given team and name', () => {
    const ref = parseStreamRef('contoso', 'bitcoin');
    expect(ref).toEqual({ team: 'contoso', name: 'bitcoin' });
    expect(Object.isFrozen(ref)).toBe(true);
  });

  describe('rejected teams', () => {
    it.each([
      ['an empty team', ''],
      ['a 33-character team', 'a'.repeat(33)],
      ['an uppercase team', 'Contoso'],
      ['a team starting with "-"', '-contoso'],
      ['a team ending with "-"', 'contoso-'],
      ['a team that is only "-"', '-'],
      ['a team with "@"', 'contoso@eu'],
      ['a team with "."', 'contoso.eu'],
      ['a team with "/"', 'contoso/eu'],
      ['a team with "\\"', 'contoso\\eu'],
      ['a team with "_"', 'contoso_eu'],
      ['a team with a space', 'contoso eu'],
      ['a team with a leading space', ' contoso'],
      ['a team with a trailing newline', 'contoso\n'],
      ['a team with a tab', 'con\ttoso'],
      ['a team with a NUL byte', 'contoso\u0000'],
      ['a team with a Cyrillic lookalike "о"', 'cont\u043eso'],
      ['a team with a fullwidth letter', 'contos\uff4f'],
      ['a team with a glob "*"', 'contoso*'],
      ['a team with a glob "?"', 'contos?'],
      ['a team with a glob "["', 'contoso[a]'],
      ['a team with a systemd specifier "%i"', 'contoso%i'],
    ])('rejects %s', (_what, team) => {
      const error = rejection(() => parseTeam(team));
      expect(error.message).toMatch(/^team .* is invalid/);
    });

    it('rejects a team that is not a string, and says what type it got', () => {
      for (const team of [undefined, null, 42, {}, ['contoso']]) {
        const error = rejection(() => parseTeam(team));
        expect(error.message).toContain(`of type ${typeof team}`);
      }
    });

    it('says an empty team is empty', () => {
      expect(rejection(() => parseTeam('')).message).toContain('empty');
    });

    it('quotes the offending team and explains the rules', () => {
      const message = rejection(() => parseTeam('Contoso')).message;
      expect(message).toContain('"Contoso"');
      expect(message).toContain('1-32');
      expect(message).toContain('starting and ending with a letter or digit');
    });
  });

  describe('rejected stream names', () => {
    it.each([
      ['an empty name', ''],
      ['a 65-character name', 'x'.repeat(65)],
      ['a name with "@"', 'btc@usd'],
      ['a name with "."', 'btc.usd'],
      ['a name ending in ".service"', 'bitcoin.service'],
      ['a name with "/"', 'btc/usd'],
      ['a path traversal', '../etc'],
      ['a name with "\\"', 'btc\\usd'],
      ['a name with a space', 'btc usd'],
      ['a name with a trailing newline', 'bitcoin\n'],
      ['a name with a carriage return', 'bitcoin\r'],
      ['a name with a NUL byte', 'bit\u0000coin'],
      ['a name with an escape character', 'bit\u001bcoin'],
      ['a name with a Cyrillic lookalike "о"', 'bitc\u043ein'],
      ['a name with an accented letter', 'bitcoín'],
      ['a name with a zero-width space', 'bit\u200bcoin'],
      ['a name with an emoji', 'bitcoin\u{1f680}'],
      ['a glob "*"', '*'],
      ['a name with a glob "?"', 'bitcoi?'],
      ['a name with a glob "["', 'bit[c]oin'],
      ['a systemd specifier "%i"', '%i'],
      ['a name with a systemd specifier "%n"', 'bitcoin%n'],
    ])('rejects %s', (_what, name) => {
      const error = rejection(() => parseStreamName(name));
      expect(error.message).toMatch(/^stream name .* is invalid/);
      expect(isValidStreamName(name)).toBe(false);
    });

    it('rejects a name that is not a string, and says what type it got', () => {
      for (const name of [undefined, null, 7, { name: 'bitcoin' }]) {
        const error = rejection(() => parseStreamName(name));
        expect(error.message).toContain(`of type ${typeof name}`);
      }
    });

    it('quotes the offending name and explains the rules', () => {
      const message = rejection(() => parseStreamName('btc.usd')).message;
      expect(message).toContain('"btc.usd"');
      expect(message).toContain('1-64');
    });
  });

  describe('huge input', () => {
    const huge = 'a'.repeat(1024 * 1024);

    it('keeps the error for a 1 MB stream name short, and reports its length', () => {
      const message = rejection(() => parseStreamName(huge)).message;
      expect(message.length).toBeLessThan(300);
      expect(message).toContain('1048576 characters');
    });

    it('keeps the error for a 1 MB team short', () => {
      const message = rejection(() => parseTeam(huge)).message;
      expect(message.length).toBeLessThan(300);
    });

    it('keeps the error short for 1 MB of control characters, which escape to six characters each', () => {
      const controls = '\u0001'.repeat(1024 * 1024);
      expect(rejection(() => parseStreamName(controls)).message.length).toBeLessThan(300);
      expect(rejection(() => parseTeam(controls)).message.length).toBeLessThan(300);
    });

    it('keeps the error on one line even when the input contains newlines', () => {
      const message = rejection(() => parseStreamName('evil\nname')).message;
      expect(message).not.toContain('\n');
      expect(message).toContain('\\n');
    });
  });

  it('checks the team before the name when both are wrong', () => {
    expect(rejection(() => parseStreamRef('BAD', 'bad.name')).message).toMatch(/^team /);
  });

  it('rejects a valid team with an invalid name', () => {
    expect(rejection(() => parseStreamRef('contoso', 'bad.name')).message).toMatch(/^stream name /);
  });
});
