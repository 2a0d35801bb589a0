import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { parseConfig, UsageError, type DaemonConfig } from '../../src/daemon/config.js';

function config(argv: string[], env: NodeJS.ProcessEnv = {}): DaemonConfig {
  const result = parseConfig(argv, env);
  if (result === 'help') throw new Error('expected a configuration, got a help request');
  return result;
}

describe('lit-streamd configuration', () => {
  it('uses the defaults when given no flags and no environment', () => {
    expect(config([])).toEqual({
      listen: '127.0.0.1:50051',
      bus: 'system',
      unitPrefix: 'lit-stream-',
      reflection: true,
      logLevel: 'info',
      accessFile: undefined,
      tlsCert: undefined,
      tlsKey: undefined,
      clientCa: undefined,
      insecure: false,
      socketMode: 0o660,
      maxCallsPerIdentity: 64,
      maxStreamsPerIdentity: 1024,
      maxStreams: 4096,
      maxMessageBytes: 4 * 1024 * 1024,
      maxJournalctl: 64,
      maxJournalctlPerIdentity: 8,
      journalDirectory: undefined,
      settleMs: 1000,
      hostName: hostname(),
    });
  });

  it("names this host by --host-name or LIT_STREAM_HOST_NAME, else the machine's host name, and rejects what is not a host name", () => {
    expect(config(['--host-name', 'feed-1']).hostName).toBe('feed-1');
    expect(config([], { LIT_STREAM_HOST_NAME: 'feed-2.feeds.example' }).hostName).toBe('feed-2.feeds.example');
    expect(config([], { LIT_STREAM_HOST_NAME: '' }).hostName).toBe(hostname());
    expect(() => config(['--host-name', 'feed 1'])).toThrow(/--host-name "feed 1" is not a host name/);
    expect(() => config(['--host-name', 'a/b'])).toThrow(UsageError);
  });

  it('reads where the journal is and the settle time from flags and the environment', () => {
    expect(config(['--journal-directory', '/tmp/j', '--settle-ms', '0'])).toMatchObject({ journalDirectory: '/tmp/j', settleMs: 0 });
    expect(config([], { LIT_STREAM_JOURNAL_DIR: '/j', LIT_STREAM_SETTLE_MS: '2500' })).toMatchObject({ journalDirectory: '/j', settleMs: 2500 });
    expect(() => config(['--settle-ms', '-1'])).toThrow(/--settle-ms/);
    expect(() => config(['--settle-ms', '1.5'])).toThrow(/--settle-ms/);
  });

  it('reads the caps on journalctl processes from flags and the environment', () => {
    expect(config(['--max-journalctl', '16', '--max-journalctl-per-identity', '2'])).toMatchObject({ maxJournalctl: 16, maxJournalctlPerIdentity: 2 });
    expect(config([], { LIT_STREAM_MAX_JOURNALCTL: '3', LIT_STREAM_MAX_JOURNALCTL_PER_IDENTITY: '1' })).toMatchObject({ maxJournalctl: 3, maxJournalctlPerIdentity: 1 });
    expect(() => config(['--max-journalctl', '0'])).toThrow(/--max-journalctl/);
  });

  it('reads the security settings from flags and the environment', () => {
    expect(
      config(['--access-file', '/etc/lit-stream/access.yaml', '--tls-cert', 'c.pem', '--tls-key', 'k.pem', '--client-ca', 'ca.pem', '--insecure', '--socket-mode', '600'], {
        LIT_STREAM_MAX_CALLS: '8',
      }),
    ).toMatchObject({ accessFile: '/etc/lit-stream/access.yaml', tlsCert: 'c.pem', tlsKey: 'k.pem', clientCa: 'ca.pem', insecure: true, socketMode: 0o600, maxCallsPerIdentity: 8 });
    expect(config([], { LIT_STREAM_INSECURE: '1', LIT_STREAM_ACCESS_FILE: 'a.json' })).toMatchObject({ insecure: true, accessFile: 'a.json' });
  });

  it('accepts a unix socket to listen on, and rejects a bad file mode or limit', () => {
    expect(config(['--listen', 'unix:/run/lit-stream/grpc.sock']).listen).toBe('unix:/run/lit-stream/grpc.sock');
    expect(() => config(['--listen', 'unix:relative'])).toThrow(UsageError);
    expect(() => config(['--socket-mode', '999'])).toThrow(UsageError);
    expect(() => config(['--max-calls-per-identity', '0'])).toThrow(UsageError);
  });

  it('serves metrics only when --metrics-listen or LIT_STREAM_METRICS_LISTEN gives an address', () => {
    expect(config([]).metricsListen).toBeUndefined();
    expect(config(['--metrics-listen', '127.0.0.1:9464']).metricsListen).toBe('127.0.0.1:9464');
    expect(config([], { LIT_STREAM_METRICS_LISTEN: '[::1]:9464' }).metricsListen).toBe('[::1]:9464');
    expect(config(['--metrics-listen', 'localhost:9000'], { LIT_STREAM_METRICS_LISTEN: '127.0.0.1:1' }).metricsListen).toBe('localhost:9000');
    expect(() => config(['--metrics-listen', 'unix:/run/metrics.sock'])).toThrow(/--metrics-listen .* is not HOST:PORT/);
    expect(() => config(['--metrics-listen', '9464'])).toThrow(UsageError);
  });

  it('reads every setting from its environment variable', () => {
    expect(
      config([], {
        LIT_STREAM_LISTEN: '0.0.0.0:6000',
        LIT_STREAM_BUS: 'session',
        LIT_STREAM_UNIT_PREFIX: 'acme-',
        LIT_STREAM_REFLECTION: 'off',
        LIT_STREAM_LOG_LEVEL: 'debug',
      }),
    ).toMatchObject({ listen: '0.0.0.0:6000', bus: 'session', unitPrefix: 'acme-', reflection: false, logLevel: 'debug' });
  });

  it.each([['off'], ['false'], ['0']])('turns reflection off with LIT_STREAM_REFLECTION=%s', (value) => {
    expect(config([], { LIT_STREAM_REFLECTION: value }).reflection).toBe(false);
  });

  it.each([['on'], ['true'], ['1'], ['']])('keeps reflection on with LIT_STREAM_REFLECTION=%j', (value) => {
    expect(config([], { LIT_STREAM_REFLECTION: value }).reflection).toBe(true);
  });

  it('reads every setting from its flag', () => {
    expect(
      config([
        '--listen',
        'localhost:7000',
        '--bus',
        'unix:path=/run/user/1000/bus',
        '--unit-prefix',
        'acme-',
        '--no-reflection',
        '--log-level',
        'warn',
      ]),
    ).toMatchObject({
      listen: 'localhost:7000',
      bus: 'unix:path=/run/user/1000/bus',
      unitPrefix: 'acme-',
      reflection: false,
      logLevel: 'warn',
    });
  });

  it('accepts --flag=value as well as --flag value', () => {
    expect(config(['--listen=localhost:7000']).listen).toBe('localhost:7000');
  });

  it('lets flags override the environment', () => {
    const env = {
      LIT_STREAM_LISTEN: '0.0.0.0:6000',
      LIT_STREAM_BUS: 'session',
      LIT_STREAM_UNIT_PREFIX: 'env-',
      LIT_STREAM_LOG_LEVEL: 'debug',
    };
    expect(
      config(['--listen', '127.0.0.1:7000', '--bus', 'system', '--unit-prefix', 'flag-', '--log-level', 'error'], env),
    ).toMatchObject({ listen: '127.0.0.1:7000', bus: 'system', unitPrefix: 'flag-', reflection: true, logLevel: 'error' });
  });

  it('lets --no-reflection turn reflection off even when the environment leaves it on', () => {
    expect(config(['--no-reflection'], { LIT_STREAM_REFLECTION: 'on' }).reflection).toBe(false);
  });

  it.each([[['--help']], [['-h']], [['--listen', 'nohostport', '--help']]])('answers %j with a help request', (argv) => {
    expect(parseConfig(argv, {})).toBe('help');
  });

  it.each([[['--frobnicate']], [['-x']], [['positional']], [['--listen']], [['--no-reflection=yes']]])(
    'rejects the command line %j with a UsageError',
    (argv) => {
      expect(() => parseConfig(argv, {})).toThrow(UsageError);
    },
  );

  it.each([['nohostport'], ['127.0.0.1'], [':50051'], ['host:port'], ['host:123456'], ['::1:50051'], ['my host:50051']])(
    'rejects the listen address %j with a UsageError that quotes it',
    (listen) => {
      expect(() => config(['--listen', listen])).toThrow(UsageError);
      expect(() => config(['--listen', listen])).toThrow(JSON.stringify(listen));
    },
  );

  it('rejects a port above 65535', () => {
    expect(() => config(['--listen', '127.0.0.1:99999'])).toThrow(UsageError);
  });

  it('treats an empty environment variable as unset', () => {
    expect(config([], { LIT_STREAM_LISTEN: '', LIT_STREAM_BUS: '' })).toMatchObject({ listen: '127.0.0.1:50051', bus: 'system' });
  });

  it('reads LIT_STREAM_REFLECTION=OFF regardless of case', () => {
    expect(config([], { LIT_STREAM_REFLECTION: 'OFF' }).reflection).toBe(false);
  });

  it('rejects a bad listen address from the environment too', () => {
    expect(() => config([], { LIT_STREAM_LISTEN: 'nohostport' })).toThrow(UsageError);
  });

  it.each([['[::1]:50051'], ['[::]:50051'], ['0.0.0.0:0'], ['localhost:50051'], ['grpc.example.com:443']])(
    'accepts the listen address %j',
    (listen) => {
      expect(config(['--listen', listen]).listen).toBe(listen);
    },
  );
});
