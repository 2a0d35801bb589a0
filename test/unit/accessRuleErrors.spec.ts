import { describe, expect, it } from 'vitest';
import { AccessRulesError, validateAccessRules } from '../../src/auth/accessRules.js';

/** The error validating `file` gives, as the server prints it at start. */
function problemWith(file: unknown): AccessRulesError {
  try {
    validateAccessRules(file);
  } catch (error) {
    expect(error).toBeInstanceOf(AccessRulesError);
    return error as AccessRulesError;
  }
  throw new Error('expected the access file to be refused');
}

describe('what a wrong access file is told (where, and what was found instead)', () => {
  it('an empty file: the problem alone, with no place in front', () => {
    for (const empty of [null, undefined]) {
      const error = problemWith(empty);
      expect(error.message).toBe('the access file is empty: expected a mapping with tokens, certificates and grants');
      expect(error.name).toBe('AccessRulesError');
    }
  });

  it.each([
    [42, 'got number 42'],
    [true, 'got boolean true'],
    ['', 'got an empty string'],
    ['everything', 'got "everything"'],
    [[['contoso']], 'got a list'],
    ['a'.repeat(46), `got "${'a'.repeat(46)}"`],
    ['a'.repeat(47), `got "${'a'.repeat(47)}…" (47 characters)`],
  ])('a grant of %j: the place, then what it got', (grant, got) => {
    const error = problemWith({ grants: { 'ingest-bot': grant } });
    expect(error.message).toMatch(/^grants\.ingest-bot(\[0\])?: expected admin, gateway, metrics or a mapping of team to roles/);
    expect(error.message.endsWith(got)).toBe(true);
  });

  it('an empty list grants nothing, and says so', () => {
    expect(problemWith({ grants: { 'ingest-bot': [] } }).message).toBe(
      'grants.ingest-bot: an empty list grants nothing: leave the identity out, or name what it may do',
    );
  });

  it('gateway and admin stand alone, not in a list', () => {
    expect(problemWith({ grants: { edge: ['metrics', 'gateway'] } }).message).toBe(
      'grants.edge[1]: a gateway acts only for the callers it names, with their grants: write the identity as `<name>: gateway`',
    );
    expect(problemWith({ grants: { edge: ['admin'] } }).message).toMatch(/^grants\.edge\[0\]: admin holds every role/);
  });

  it('a list of metrics and teams is a grant', () => {
    const rules = validateAccessRules({ grants: { dashboard: ['metrics', { contoso: 'reader' }] } });
    expect(rules.metrics.has('dashboard')).toBe(true);
    expect(rules.grants.get('dashboard')).toEqual(new Map([['contoso', ['reader']]]));
  });
});
