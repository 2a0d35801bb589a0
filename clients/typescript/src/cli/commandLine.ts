import { parseArgs } from 'node:util';
import { UsageError } from './usageError.js';

/**
 * The command line: `lit-streamctl [OPTIONS] COMMAND ARGS… [OPTIONS]`, parsed with node:util's
 * parseArgs. Options may come before or after the command, as with systemctl; each command
 * accepts the connection options, `-o` and `--help`, plus its own.
 */
const OPTIONS = {
  output: { type: 'string', short: 'o' },
  addr: { type: 'string' },
  token: { type: 'string' },
  ca: { type: 'string' },
  cert: { type: 'string' },
  key: { type: 'string' },
  host: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
  lines: { type: 'string', short: 'n' },
  follow: { type: 'boolean', short: 'f' },
  since: { type: 'string' },
  now: { type: 'boolean' },
} as const;

export type OptionName = keyof typeof OPTIONS;

export const COMMANDS = ['list', 'status', 'start', 'stop', 'restart', 'enable', 'disable', 'logs', 'runs', 'watch', 'help'] as const;
export type CommandName = (typeof COMMANDS)[number];

/** Options every command takes. */
const COMMON: readonly OptionName[] = ['output', 'addr', 'token', 'ca', 'cert', 'key', 'host', 'help'];

/** What each command takes beyond the common options, and how many arguments. */
const ARGUMENTS: Record<CommandName, { readonly min: number; readonly max: number; readonly options: readonly OptionName[] }> = {
  list: { min: 1, max: 1, options: [] },
  status: { min: 1, max: Infinity, options: [] },
  start: { min: 1, max: Infinity, options: [] },
  stop: { min: 1, max: Infinity, options: [] },
  restart: { min: 1, max: Infinity, options: [] },
  enable: { min: 1, max: Infinity, options: ['now'] },
  disable: { min: 1, max: Infinity, options: ['now'] },
  logs: { min: 1, max: 1, options: ['lines', 'follow', 'since'] },
  runs: { min: 1, max: 1, options: [] },
  watch: { min: 1, max: 1, options: [] },
  help: { min: 0, max: 1, options: [] },
};

export interface CommandLine {
  /** Absent for `lit-streamctl` alone, `--help` and `--version`. */
  readonly command?: CommandName;
  readonly args: readonly string[];
  readonly output: 'text' | 'json';
  readonly help: boolean;
  readonly version: boolean;
  readonly connection: { readonly addr?: string; readonly token?: string; readonly ca?: string; readonly cert?: string; readonly key?: string };
  /** `--host`: the host of a fleet whose streams are meant. */
  readonly host?: string;
  /** `logs`: -n, -f, --since as given. */
  readonly logs: { readonly lines?: string; readonly follow: boolean; readonly since?: string };
  /** `enable`, `disable`: --now, also start or stop. */
  readonly now: boolean;
}

export function parseCommandLine(argv: readonly string[]): CommandLine {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true, tokens: true });
  } catch (error) {
    throw new UsageError((error as Error).message.replace(/\. To specify a positional argument.*$/s, ''));
  }
  const { values, positionals, tokens } = parsed;
  const [first, ...args] = positionals;
  if (first !== undefined && !COMMANDS.includes(first as CommandName)) throw new UsageError(`unknown command '${first}'`);
  const command = first as CommandName | undefined;

  const output = values.output ?? 'text';
  if (output !== 'text' && output !== 'json') throw new UsageError(`-o takes 'text' or 'json', not '${output}'`);
  const line: CommandLine = {
    command,
    args,
    output,
    help: values.help === true,
    version: values.version === true,
    connection: { addr: values.addr, token: values.token, ca: values.ca, cert: values.cert, key: values.key },
    ...(values.host ? { host: values.host } : {}),
    logs: { lines: values.lines, follow: values.follow === true, since: values.since },
    now: values.now === true,
  };
  if (!command || line.help) return line;
  if (line.version) throw new UsageError("--version takes no command");

  const allowed = new Set([...COMMON, ...ARGUMENTS[command].options]);
  for (const token of tokens) {
    if (token.kind === 'option' && !allowed.has(token.name)) throw new UsageError(`'${command}' has no option ${token.rawName}`);
  }
  const { min, max } = ARGUMENTS[command];
  if (args.length < min) throw new UsageError(`'${command}' needs ${min === 1 && max === 1 ? 'an argument' : 'at least one argument'}`);
  if (args.length > max) throw new UsageError(`'${command}' takes ${max === 1 ? 'one argument' : `at most ${max} arguments`}`);
  return line;
}
