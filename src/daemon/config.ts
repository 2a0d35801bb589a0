import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { isValidHostName } from '../core/hostName.js';
import { MAX_SETTLE_MS } from '../core/actionResult.js';
import { DEFAULT_UNIT_PREFIX } from '../core/unitNaming.js';

export interface DaemonConfig {
  readonly listen: string;
  readonly bus: string;
  readonly unitPrefix: string;
  readonly reflection: boolean;
  readonly logLevel: string;
  readonly accessFile?: string;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly clientCa?: string;
  readonly insecure: boolean;
  readonly socketMode: number;
  readonly maxCallsPerIdentity: number;
  readonly maxStreamsPerIdentity: number;
  readonly maxStreams: number;
  readonly maxMessageBytes: number;
  readonly maxJournalctl: number;
  readonly maxJournalctlPerIdentity: number;
  readonly journalDirectory?: string;
  readonly settleMs: number;
  readonly metricsListen?: string;
  /** This host's name in answers (`host`); a request naming another host is NOT_FOUND. */
  readonly hostName: string;
  /** Gateway mode: the fleet file of the agents to serve, instead of a systemd of our own. */
  readonly fleetFile?: string;
}

/** Where lit-streamd listens unless told otherwise; the clients' default address is the same
 *  (clients/testdata/defaults.json holds both to it). */
export const DEFAULT_LISTEN = '127.0.0.1:50051';

export const USAGE = `Usage: lit-streamd [options]

Serves lit.stream.v1.StreamService over gRPC, driving systemd over D-Bus.

Options (each falls back to its environment variable, then to the default):
  --listen HOST:PORT|unix:/PATH  address to serve on      LIT_STREAM_LISTEN       ${DEFAULT_LISTEN}
  --bus system|session|ADDRESS   D-Bus bus of the systemd LIT_STREAM_BUS          system
                          manager to drive (ADDRESS e.g. unix:path=/run/user/1000/bus)
  --unit-prefix PREFIX    unit name prefix                LIT_STREAM_UNIT_PREFIX  ${DEFAULT_UNIT_PREFIX}
  --access-file PATH      identities and roles (JSON/YAML) LIT_STREAM_ACCESS_FILE  none: loopback/unix only
  --tls-cert PATH         server certificate (PEM)        LIT_STREAM_TLS_CERT
  --tls-key PATH          server private key (PEM)        LIT_STREAM_TLS_KEY
  --client-ca PATH        CA for client certificates      LIT_STREAM_CLIENT_CA
  --insecure              allow plaintext TCP off loopback LIT_STREAM_INSECURE=1
  --socket-mode MODE      unix socket file mode (octal)   LIT_STREAM_SOCKET_MODE  660
  --max-calls-per-identity N  concurrent calls per caller LIT_STREAM_MAX_CALLS    64
  --max-streams-per-identity N  open streams per caller LIT_STREAM_MAX_STREAMS_PER_IDENTITY 1024
  --max-streams N         open streams in all             LIT_STREAM_MAX_STREAMS  4096
  --max-message-bytes N   largest request accepted        LIT_STREAM_MAX_MESSAGE_BYTES 4194304
  --max-journalctl N      journalctl processes in all     LIT_STREAM_MAX_JOURNALCTL 64
  --max-journalctl-per-identity N  journal reads, and     LIT_STREAM_MAX_JOURNALCTL_PER_IDENTITY 8
                          streams followed, per caller
  --journal-directory PATH  journal files to read stream  LIT_STREAM_JOURNAL_DIR  the system journal
                          logs from (journalctl --directory)
  --settle-ms N           how long a started worker must LIT_STREAM_SETTLE_MS    1000
                          hold before Start succeeds (0: off)
  --metrics-listen HOST:PORT  serve Prometheus metrics at /metrics LIT_STREAM_METRICS_LISTEN  off
  --host-name NAME        this host's name in answers     LIT_STREAM_HOST_NAME    the machine's host name
  --fleet FILE            gateway mode: serve the agents  LIT_STREAM_FLEET        off
                          the fleet file names (no systemd of its own; --bus, --unit-prefix,
                          --journal-directory, --settle-ms and --host-name do not apply)
  --no-reflection         do not serve gRPC reflection    LIT_STREAM_REFLECTION=off
  --log-level LEVEL       pino level                      LIT_STREAM_LOG_LEVEL    info
  -h, --help              show this help

Signals: SIGTERM/SIGINT stop gracefully; SIGHUP reloads the access file (and the fleet file),
or stops gracefully once the terminal lit-streamd was started on has been closed.
`;

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

const FLAGS = {
  listen: { type: 'string' },
  bus: { type: 'string' },
  'unit-prefix': { type: 'string' },
  'access-file': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'client-ca': { type: 'string' },
  insecure: { type: 'boolean' },
  'socket-mode': { type: 'string' },
  'max-calls-per-identity': { type: 'string' },
  'max-streams-per-identity': { type: 'string' },
  'max-streams': { type: 'string' },
  'max-message-bytes': { type: 'string' },
  'max-journalctl': { type: 'string' },
  'max-journalctl-per-identity': { type: 'string' },
  'journal-directory': { type: 'string' },
  'settle-ms': { type: 'string' },
  'metrics-listen': { type: 'string' },
  'host-name': { type: 'string' },
  fleet: { type: 'string' },
  'no-reflection': { type: 'boolean' },
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export function parseConfig(argv: readonly string[], env: NodeJS.ProcessEnv): DaemonConfig | 'help' {
  let values;
  try {
    ({ values } = parseArgs({ args: [...argv], options: FLAGS, strict: true, allowPositionals: false }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) return 'help';
  // An empty variable counts as unset, as in a unit file's `Environment=LIT_STREAM_LISTEN=`.
  const fromEnv = (name: string) => (env[name] === '' ? undefined : env[name]);
  const flag = (value: boolean | undefined, name: string) =>
    value ?? ['1', 'true', 'yes', 'on'].includes((fromEnv(name) ?? '').toLowerCase());
  const listen = values.listen ?? fromEnv('LIT_STREAM_LISTEN') ?? DEFAULT_LISTEN;
  checkListen(listen);
  const metricsListen = values['metrics-listen'] ?? fromEnv('LIT_STREAM_METRICS_LISTEN');
  const fleetFile = values.fleet ?? fromEnv('LIT_STREAM_FLEET');
  if (fleetFile !== undefined) {
    // A gateway drives no systemd: a flag about one is a mistake worth saying, not ignoring.
    const local = (['bus', 'unit-prefix', 'journal-directory', 'settle-ms', 'host-name'] as const).find((flag) => values[flag] !== undefined);
    if (local) throw new UsageError(`--${local} does not apply with --fleet: a gateway drives no systemd of its own, its agents do`);
  }
  if (metricsListen !== undefined) checkHostPort('--metrics-listen', metricsListen);
  return {
    listen,
    bus: values.bus ?? fromEnv('LIT_STREAM_BUS') ?? 'system',
    unitPrefix: values['unit-prefix'] ?? fromEnv('LIT_STREAM_UNIT_PREFIX') ?? DEFAULT_UNIT_PREFIX,
    reflection: !(values['no-reflection'] ?? ['off', 'false', '0'].includes((fromEnv('LIT_STREAM_REFLECTION') ?? '').toLowerCase())),
    logLevel: values['log-level'] ?? fromEnv('LIT_STREAM_LOG_LEVEL') ?? 'info',
    accessFile: values['access-file'] ?? fromEnv('LIT_STREAM_ACCESS_FILE'),
    tlsCert: values['tls-cert'] ?? fromEnv('LIT_STREAM_TLS_CERT'),
    tlsKey: values['tls-key'] ?? fromEnv('LIT_STREAM_TLS_KEY'),
    clientCa: values['client-ca'] ?? fromEnv('LIT_STREAM_CLIENT_CA'),
    insecure: flag(values.insecure, 'LIT_STREAM_INSECURE'),
    socketMode: octal('--socket-mode', values['socket-mode'] ?? fromEnv('LIT_STREAM_SOCKET_MODE') ?? '660'),
    maxCallsPerIdentity: positive('--max-calls-per-identity', values['max-calls-per-identity'] ?? fromEnv('LIT_STREAM_MAX_CALLS') ?? '64'),
    maxStreamsPerIdentity: positive('--max-streams-per-identity', values['max-streams-per-identity'] ?? fromEnv('LIT_STREAM_MAX_STREAMS_PER_IDENTITY') ?? '1024'),
    maxStreams: positive('--max-streams', values['max-streams'] ?? fromEnv('LIT_STREAM_MAX_STREAMS') ?? '4096'),
    maxMessageBytes: positive('--max-message-bytes', values['max-message-bytes'] ?? fromEnv('LIT_STREAM_MAX_MESSAGE_BYTES') ?? '4194304'),
    maxJournalctl: positive('--max-journalctl', values['max-journalctl'] ?? fromEnv('LIT_STREAM_MAX_JOURNALCTL') ?? '64'),
    maxJournalctlPerIdentity: positive(
      '--max-journalctl-per-identity',
      values['max-journalctl-per-identity'] ?? fromEnv('LIT_STREAM_MAX_JOURNALCTL_PER_IDENTITY') ?? '8',
    ),
    journalDirectory: values['journal-directory'] ?? fromEnv('LIT_STREAM_JOURNAL_DIR'),
    settleMs: settle(values['settle-ms'] ?? fromEnv('LIT_STREAM_SETTLE_MS') ?? '1000'),
    metricsListen,
    hostName: hostNameOf(values['host-name'] ?? fromEnv('LIT_STREAM_HOST_NAME')),
    ...(fleetFile !== undefined ? { fleetFile } : {}),
  };
}

function hostNameOf(given: string | undefined): string {
  const name = given ?? hostname();
  if (!isValidHostName(name)) {
    const from = given === undefined ? `the machine's host name ${JSON.stringify(name)}` : `--host-name ${JSON.stringify(name)}`;
    throw new UsageError(`${from} is not a host name (1-255 of A-Z, a-z, 0-9, '.', '_', '-', ':', '[', ']'): give --host-name`);
  }
  return name;
}

function checkListen(listen: string): void {
  if (listen.startsWith('unix:')) {
    if (!/^unix:(\/\/)?\/\S+$/.test(listen)) throw new UsageError(`--listen ${JSON.stringify(listen)} is not unix:/absolute/path`);
    return;
  }
  checkHostPort('--listen', listen, ' or unix:/path');
}

function checkHostPort(flagName: string, listen: string, orElse = ''): void {
  const port = /^(?:\[[0-9a-fA-F:.]+\]|[^:\s]+):(\d{1,5})$/.exec(listen)?.[1];
  if (port === undefined || Number(port) > 65535) {
    throw new UsageError(`${flagName} ${JSON.stringify(listen)} is not HOST:PORT (port 0-65535)${orElse}`);
  }
}

function octal(flagName: string, text: string): number {
  if (!/^0?[0-7]{3}$/.test(text)) throw new UsageError(`${flagName} ${JSON.stringify(text)} is not an octal file mode like 660`);
  return parseInt(text, 8);
}

function positive(flagName: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flagName} ${JSON.stringify(text)} is not a positive whole number`);
  return n;
}

function settle(text: string): number {
  const ms = Number(text);
  if (!/^\d+$/.test(text) || ms > MAX_SETTLE_MS) throw new UsageError(`--settle-ms ${JSON.stringify(text)} is not a whole number of ms from 0 to ${MAX_SETTLE_MS}`);
  return ms;
}
