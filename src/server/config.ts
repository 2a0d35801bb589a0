import { parseArgs } from 'node:util';
import { DEFAULT_UNIT_PREFIX } from '../core/unitNaming.js';

export interface DaemonConfig {
  readonly listen: string;
  readonly bus: string;
  readonly unitPrefix: string;
  readonly reflection: boolean;
  readonly logLevel: string;
}

export const USAGE = `Usage: lit-streamd [options]

Serves lit.stream.v1.StreamService over gRPC, driving systemd over D-Bus.

Options (each falls back to its environment variable, then to the default):
  --listen HOST:PORT      address to serve on       LIT_STREAM_LISTEN       127.0.0.1:50051
  --bus system|session|ADDRESS
                          D-Bus bus of the systemd   LIT_STREAM_BUS          system
                          manager to drive (ADDRESS e.g. unix:path=/run/user/1000/bus)
  --unit-prefix PREFIX    unit name prefix          LIT_STREAM_UNIT_PREFIX  ${DEFAULT_UNIT_PREFIX}
  --no-reflection         do not serve gRPC reflection  LIT_STREAM_REFLECTION=off
  --log-level LEVEL       pino level                LIT_STREAM_LOG_LEVEL    info
  -h, --help              show this help
`;

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export function parseConfig(argv: readonly string[], env: NodeJS.ProcessEnv): DaemonConfig | 'help' {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        listen: { type: 'string' },
        bus: { type: 'string' },
        'unit-prefix': { type: 'string' },
        'no-reflection': { type: 'boolean' },
        'log-level': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) return 'help';
  // An empty variable counts as unset, as in a unit file's `Environment=LIT_STREAM_LISTEN=`.
  const fromEnv = (name: string) => (env[name] === '' ? undefined : env[name]);
  const listen = values.listen ?? fromEnv('LIT_STREAM_LISTEN') ?? '127.0.0.1:50051';
  const port = /^(?:\[[0-9a-fA-F:.]+\]|[^:\s]+):(\d{1,5})$/.exec(listen)?.[1];
  if (port === undefined || Number(port) > 65535) {
    throw new UsageError(`--listen ${JSON.stringify(listen)} is not HOST:PORT (port 0-65535)`);
  }
  return {
    listen,
    bus: values.bus ?? fromEnv('LIT_STREAM_BUS') ?? 'system',
    unitPrefix: values['unit-prefix'] ?? fromEnv('LIT_STREAM_UNIT_PREFIX') ?? DEFAULT_UNIT_PREFIX,
    reflection: !(values['no-reflection'] ?? ['off', 'false', '0'].includes((fromEnv('LIT_STREAM_REFLECTION') ?? '').toLowerCase())),
    logLevel: values['log-level'] ?? fromEnv('LIT_STREAM_LOG_LEVEL') ?? 'info',
  };
}
