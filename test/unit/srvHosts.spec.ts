import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { srvHosts } from '../../src/fleet/dnsDiscovery.js';

/**
 * The hosts a fleet gateway takes from an SRV answer, as node's resolver (c-ares) gives it. The
 * answers below are what dnsmasq sent for `--srv-host` records: a record without a target comes as
 * name '' and port 1, and the records of one name come in a different order at each query.
 */
const record = (name: string, port: number) => ({ name, port, priority: 0, weight: 0 });

describe('the hosts of an SRV answer', () => {
  it("names each host by its target's first label, at the target and the record's port", () => {
    expect([...srvHosts([record('feed-1.feeds.test', 50051), record('feed-2.feeds.test.', 50052)])]).toEqual([
      ['feed-1', 'feed-1.feeds.test:50051'],
      ['feed-2', 'feed-2.feeds.test:50052'],
    ]);
  });

  it("takes a target of '.' for what RFC 2782 says it is, no service there: no host, not one named ''", () => {
    expect([...srvHosts([record('', 1)])]).toEqual([]);
    expect([...srvHosts([record('.', 1), record('feed-1.feeds.test', 50051)])]).toEqual([['feed-1', 'feed-1.feeds.test:50051']]);
  });

  it('names no host by a label that is not a host name', () => {
    expect([...srvHosts([record('-feed.feeds.test', 50051), record('feed 1.feeds.test', 50051)])]).toEqual([]);
  });

  it('gives a first label that two targets share to the same one whatever order the resolver answers in', () => {
    const answer = [record('feed-1.b.feeds.test', 50052), record('feed-1.a.feeds.test', 50051), record('feed-1.a.feeds.test', 50050), record('feed-2.feeds.test', 50051)];
    const expected = [...srvHosts(answer)].sort();
    expect(expected).toEqual([
      ['feed-1', 'feed-1.a.feeds.test:50050'],
      ['feed-2', 'feed-2.feeds.test:50051'],
    ]);
    fc.assert(
      fc.property(fc.shuffledSubarray(answer, { minLength: answer.length }), (rotated) => {
        expect([...srvHosts(rotated)].sort()).toEqual(expected);
      }),
    );
  });
});
