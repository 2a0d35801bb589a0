import { describe, expect, it } from 'vitest';
import * as errors from '../../src/core/errors.js';
import { Failure } from '../../src/core/errors.js';

/** Every Failure the core exports, by its class name. */
type FailureClass = new (message: string, code: errors.FailureCode) => Failure;
const failureClasses = Object.entries(errors as Record<string, unknown>).filter(
  (entry): entry is [string, FailureClass] =>
    typeof entry[1] === 'function' && entry[1] !== Failure && (entry[1] as { prototype: unknown }).prototype instanceof Failure,
);

describe("the product's failures", () => {
  it('are found (the list below is not empty by mistake)', () => {
    expect(failureClasses.length).toBeGreaterThan(10);
  });

  // The name is what logs print before the message (pino's err.type, Node's `${name}: ${message}`).
  it.each(failureClasses)('%s names itself, tells the caller its message, and has a canonical code', (className, FailureClass) => {
    // (UnitFilesRefusedError takes the code systemd's refusal maps to; the others ignore it.)
    const failure = new FailureClass('unit feed@contoso.service: no such unit', 'FAILED_PRECONDITION');
    expect(failure.name).toBe(className);
    expect(String(failure)).toBe(`${className}: unit feed@contoso.service: no such unit`);
    expect(failure.details).toBe('unit feed@contoso.service: no such unit');
    expect(failure.code).toMatch(/^[A-Z_]+$/);
  });
});
