import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { SERVER_TAIL_CAP } from '../../clients/typescript/src/cli/commands/logs.js';
import { DEFAULT_ADDRESS } from '../../clients/typescript/src/connection.js';
import { LitStreamError } from '../../clients/typescript/src/errors.js';
import { ActiveState, LoadState, UsageSource } from '../../clients/typescript/src/gen/lit/stream/v1/stream.js';
import { ACTION_DEADLINE_MS, READ_DEADLINE_MS } from '../../clients/typescript/src/service.js';
import { activeStateWord, loadStateWord, usageSourceWord } from '../../clients/typescript/src/stateWords.js';
import { STATUS_LOG_LINES } from '../../clients/typescript/src/stream.js';
import { DEFAULT_TAIL_LINES, MAX_TAIL_LINES } from '../../src/core/logLine.js';
import { DEFAULT_LISTEN } from '../../src/daemon/config.js';
import { STATUS_NAMES } from '../../src/rpc/grpcStatus.js';
import { defaults, enumValueNames, pairs, states, statusCodes } from '../support/testdata.js';

/**
 * What the server and both clients share, each in a constant of its own (the server never imports
 * clients/, the clients never import src/), held to clients/testdata; the Python client's
 * tests/test_shared_rules.py holds it to the same files. The server's state words:
 * stateNames.spec.ts.
 */
describe('lit-streamd keeps to clients/testdata', () => {
  it('listens where the clients call by default', () => {
    expect(DEFAULT_LISTEN).toBe(defaults.address);
  });

  it('sends the default and the most log lines the clients document', () => {
    expect(DEFAULT_TAIL_LINES).toBe(defaults.tailLines);
    expect(MAX_TAIL_LINES).toBe(defaults.maxTailLines);
  });

  it.each(Object.entries(statusCodes))('logs code %s by its name (%i)', (name, code) => {
    expect(STATUS_NAMES[code]).toBe(name);
  });

  it('knows every gRPC status code, and no other', () => {
    expect(Object.values(STATUS_NAMES).sort()).toEqual(Object.keys(statusCodes).sort());
  });
});

describe('the TypeScript client keeps to clients/testdata', () => {
  it("calls lit-streamd's default address and waits the clients' default deadlines", () => {
    expect(DEFAULT_ADDRESS).toBe(defaults.address);
    expect(READ_DEADLINE_MS).toBe(defaults.readDeadlineSeconds * 1000);
    expect(ACTION_DEADLINE_MS).toBe(defaults.actionDeadlineSeconds * 1000);
  });

  it("asks status() for systemctl's log lines, and `logs -n all` for the server's most", () => {
    expect(STATUS_LOG_LINES).toBe(defaults.statusLogLines);
    expect(SERVER_TAIL_CAP).toBe(defaults.maxTailLines);
  });

  it('knows every value of its generated enums, and no other', () => {
    expect(enumValueNames(LoadState)).toEqual(Object.keys(states.loadStates));
    expect(enumValueNames(ActiveState)).toEqual(Object.keys(states.activeStates));
    expect(enumValueNames(UsageSource)).toEqual(Object.keys(states.usageSources));
  });

  it.each(pairs(states.loadStates))("reads load state %s as '%s'", (name, word) => {
    expect(loadStateWord(LoadState[name as keyof typeof LoadState])).toBe(word);
  });

  it.each(pairs(states.activeStates))("reads active state %s as '%s'", (name, word) => {
    expect(activeStateWord(ActiveState[name as keyof typeof ActiveState])).toBe(word);
  });

  it.each(pairs(states.usageSources))("reads usage source %s as '%s'", (name, word) => {
    expect(usageSourceWord(UsageSource[name as keyof typeof UsageSource])).toBe(word);
  });

  it.each(Object.entries(statusCodes))('names code %s (%i) in a LitStreamError', (name, code) => {
    const error = new LitStreamError(code, 'why');
    expect(error.codeName).toBe(name);
    expect(error.message).toBe(`${name}: why`);
  });

  it('names a code gRPC does not define by its number', () => {
    expect(new LitStreamError(17 as status, 'why').codeName).toBe('17');
  });
});
