import { describe, expect, it } from 'vitest';
import { parseDuration } from '../../src/fleet/duration.js';
import { parseFleetFile } from '../../src/fleet/fleetFile.js';

const parse = (text: string) => parseFleetFile(text, '/etc/lit-stream/fleet.yaml');
const TLS = 'tls: { ca: ca.pem, cert: gw.pem, key: gw.key }\n';

describe('the fleet file', () => {
  it('reads static hosts, discovery entries, the per-host deadline and TLS paths relative to the file', () => {
    const fleet = parse(
      `hosts:\n  - name: feed-1\n    address: 10.0.0.1:50051\ndiscover:\n  - srv: _lit-stream._tcp.feeds.example\n  - a: feeds.example:50051\n    interval: 500ms\ndeadline: 1500ms\n${TLS}`,
    );
    expect(fleet).toEqual({
      hosts: [{ name: 'feed-1', address: '10.0.0.1:50051' }],
      discover: [
        { kind: 'srv', name: '_lit-stream._tcp.feeds.example', intervalMs: 30_000, label: 'srv:_lit-stream._tcp.feeds.example' },
        { kind: 'a', name: 'feeds.example', port: 50051, intervalMs: 500, label: 'a:feeds.example:50051' },
      ],
      deadlineMs: 1_500,
      tls: { ca: '/etc/lit-stream/ca.pem', cert: '/etc/lit-stream/gw.pem', key: '/etc/lit-stream/gw.key' },
    });
  });

  it('defaults the deadline to 2 s, and needs no TLS when every agent is on loopback or a unix socket', () => {
    const fleet = parse('hosts:\n  - { name: a, address: 127.0.0.1:50051 }\n  - { name: b, address: "unix:/run/b.sock" }\n');
    expect(fleet.deadlineMs).toBe(2_000);
    expect(fleet.tls).toBeUndefined();
  });

  it.each([
    ['no hosts at all', 'deadline: 2s\n', /no hosts: give hosts, discover or both/],
    ['a remote agent without TLS', 'hosts:\n  - { name: a, address: 10.0.0.1:50051 }\n', /:2:\d+: hosts\[0\]\.address: 10\.0\.0\.1:50051 is not loopback or a unix socket: give tls/],
    ['discovery without TLS', 'discover:\n  - srv: _x._tcp.example\n', /discover: discovered hosts are reached over the network: give tls/],
    ['a duration without a unit', `hosts:\n  - { name: a, address: 127.0.0.1:1 }\ndeadline: 2\n`, /:3:\d+: deadline: "2" is not a duration like 500ms, 2s or 1m/],
    ['a zero duration', `hosts:\n  - { name: a, address: 127.0.0.1:1 }\ndeadline: 0s\n`, /deadline: "0s" is not a duration/],
    ['two hosts of one name', 'hosts:\n  - { name: a, address: 127.0.0.1:1 }\n  - { name: a, address: 127.0.0.1:2 }\n', /:3:\d+: hosts\[1\]\.name: the same name as hosts\[0\]/],
    ['a host name with a space', 'hosts:\n  - { name: "a b", address: 127.0.0.1:1 }\n', /hosts\[0\]\.name: "a b" is not a host name/],
    ['an address without a port', 'hosts:\n  - { name: a, address: 127.0.0.1 }\n', /is not HOST:PORT or unix:\/path/],
    ['an entry with both srv and a', `discover:\n  - { srv: _x._tcp.example, a: "example:1" }\n${TLS}`, /discover\[0\]: give exactly one of srv/],
    ['an A entry without a port', `discover:\n  - a: feeds.example\n${TLS}`, /discover\[0\]\.a: "feeds.example" is not NAME:PORT/],
    ['an unknown field', 'hosts: []\nhsts: []\n', /:2:1: hsts: unknown field/],
    ['a YAML syntax error', 'hosts: [\n', /^\/etc\/lit-stream\/fleet\.yaml:\d+:\d+: invalid YAML/],
    ['TLS missing a file', 'hosts:\n  - { name: a, address: 127.0.0.1:1 }\ntls: { ca: ca.pem, cert: gw.pem }\n', /tls\.key: is missing/],
  ])('refuses %s, saying where', (_what, text, message) => {
    expect(() => parse(text)).toThrow(message);
  });
});

describe('durations in the fleet file', () => {
  it('are a whole number and a unit: ms, s, m or h', () => {
    expect([parseDuration('500ms'), parseDuration('2s'), parseDuration('1m'), parseDuration('1h')]).toEqual([500, 2_000, 60_000, 3_600_000]);
    for (const text of ['2', '1.5s', 's', '2 s', '-1s', '1d']) expect(parseDuration(text)).toBeUndefined();
  });
});
