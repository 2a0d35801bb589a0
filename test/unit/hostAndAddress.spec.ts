import { describe, expect, it } from 'vitest';
import { isLoopback, isUnixSocket } from '../../src/core/address.js';
import { InvalidArgumentError } from '../../src/core/errors.js';
import { isValidHostName, parseHostChoice } from '../../src/core/hostName.js';

describe('listen addresses', () => {
  it.each([['unix:/run/lit-stream/api.sock'], ['unix:///run/lit-stream/api.sock']])('%j is a unix socket', (address) => {
    expect(isUnixSocket(address)).toBe(true);
  });

  it.each([['127.0.0.1:50051'], ['[::1]:50051'], ['dns:unix.example:50051'], ['localhost:50051']])(
    '%j is not a unix socket',
    (address) => {
      expect(isUnixSocket(address)).toBe(false);
    },
  );

  it.each([['localhost:50051'], ['[::1]:50051'], ['127.0.0.1:50051'], ['127.255.10.200:8443']])('%j is on the loopback interface', (address) => {
    expect(isLoopback(address)).toBe(true);
  });

  it.each([
    ['0.0.0.0:50051'],
    ['[::]:50051'],
    ['10.0.0.1:50051'],
    ['[2001:db8::1]:50051'],
    ['feeds.example:50051'],
    // Names and addresses that only contain a loopback one are not loopback.
    ['my-localhost:50051'],
    ['localhost.example:50051'],
    ['1127.0.0.1:50051'],
    ['127.0.0.1.example:50051'],
    ['127.0.0.1000:50051'],
    ['[::1]x:50051'],
    ['x[::1]:50051'],
  ])('%j is not on the loopback interface', (address) => {
    expect(isLoopback(address)).toBe(false);
  });
});

describe('host names in requests and answers', () => {
  it.each([
    ['feed-1'],
    ['feed-1.feeds.example'],
    ['feed_1'],
    ['7feeds'],
    ['10.0.0.1:50051'],
    ['[2001:db8::1]:50051'],
    ['a'.repeat(255)],
  ])('accepts %j', (host) => {
    expect(isValidHostName(host)).toBe(true);
    expect(parseHostChoice(host)).toBe(host);
  });

  it.each([
    ['-feed'],
    ['.feed'],
    ['_feed'],
    [':50051'],
    ['feed 1'],
    ['feed/1'],
    ['féed'],
    ['feed\n'],
    ['a'.repeat(256)],
  ])('rejects %j as INVALID_ARGUMENT, naming what a host may contain', (host) => {
    expect(isValidHostName(host)).toBe(false);
    const error = (() => {
      try {
        parseHostChoice(host);
      } catch (thrown) {
        return thrown;
      }
      throw new Error('expected a rejection');
    })();
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as InvalidArgumentError).message).toContain("use 1-255 of A-Z, a-z, 0-9, '.', '_', '-', ':', '[' and ']'");
  });

  it('quotes an invalid host whole while it is at most 48 characters quoted', () => {
    expect(() => parseHostChoice('feed 1')).toThrow('host "feed 1" is invalid: ');
    const host = ' ' + 'a'.repeat(45);
    expect(JSON.stringify(host)).toHaveLength(48);
    expect(() => parseHostChoice(host)).toThrow(`host ${JSON.stringify(host)} is invalid: `);
  });

  it('cuts a long invalid host to its first 48 characters as quoted', () => {
    const host = ' ' + 'a'.repeat(299);
    const quoted = JSON.stringify(host);
    expect(() => parseHostChoice(host)).toThrow(`host ${quoted.slice(0, 48)}…" is invalid: `);
    expect(() => parseHostChoice(host)).not.toThrow(quoted.slice(0, 49));
  });

  it('takes an absent or empty host as no host named', () => {
    expect(parseHostChoice(undefined)).toBeUndefined();
    expect(parseHostChoice('')).toBeUndefined();
  });
});
