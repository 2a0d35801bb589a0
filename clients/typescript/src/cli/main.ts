import { closeSharedClients, LitStreamError } from '../index.js';
import { type CommandLine, type CommandName, parseCommandLine } from './commandLine.js';
import { action } from './commands/action.js';
import { enablement } from './commands/enable.js';
import { list } from './commands/list.js';
import { logs } from './commands/logs.js';
import { runs } from './commands/runs.js';
import { status } from './commands/status.js';
import { watch } from './commands/watch.js';
import { Context } from './context.js';
import { ExitCode, exitCodeForError } from './exitCodes.js';
import { COMMAND_HELP, MAIN_HELP } from './help.js';
import type { Io } from './terminal.js';
import { UsageError } from './usageError.js';
import { packageVersion } from './version.js';

/**
 * lit-streamctl: the command line for lit-streamd, shaped like systemctl, built on the client
 * library's public API alone. Returns the exit code.
 */
export async function main(argv: readonly string[], io: Io): Promise<ExitCode> {
  let line: CommandLine;
  try {
    line = parseCommandLine(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr.write(`lit-streamctl: ${error.message}\nTry 'lit-streamctl --help'.\n`);
    return ExitCode.USAGE;
  }
  if (line.version) return print(io, `lit-streamctl ${packageVersion()}\n`);
  if (line.command === 'help') return help(io, line.args[0]);
  if (!line.command) {
    if (line.help) return print(io, MAIN_HELP);
    io.stderr.write(`${MAIN_HELP}\nlit-streamctl: a command is needed.\n`);
    return ExitCode.USAGE;
  }
  if (line.help) return print(io, COMMAND_HELP[line.command]);

  const command = line.command;
  let context: Context;
  try {
    context = new Context(io, line);
  } catch (error) {
    // An unreadable TLS file: one line, no stack.
    io.stderr.write(`lit-streamctl: ${(error as Error).message}\n`);
    return ExitCode.FAILURE;
  }
  try {
    return await run(context, command, line);
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`lit-streamctl: ${error.message}\nTry 'lit-streamctl ${command} --help'.\n`);
      return ExitCode.USAGE;
    }
    if (!(error instanceof LitStreamError)) throw error;
    context.reportError(undefined, error);
    const acts = ['start', 'stop', 'restart', 'enable', 'disable'].includes(command);
    return exitCodeForError(error, acts ? 'action' : 'query', context.connected);
  } finally {
    closeSharedClients();
  }
}

function run(context: Context, command: Exclude<CommandName, 'help'>, line: CommandLine): Promise<ExitCode> {
  const { args } = line;
  switch (command) {
    case 'list':
      return list(context, args);
    case 'status':
      return status(context, args);
    case 'start':
    case 'stop':
    case 'restart':
      return action(context, command, args);
    case 'enable':
    case 'disable':
      return enablement(context, command, args, line.now);
    case 'logs':
      return logs(context, args, line.logs);
    case 'runs':
      return runs(context, args);
    case 'watch':
      return watch(context, args);
  }
}

function help(io: Io, topic: string | undefined): ExitCode {
  if (topic === undefined) return print(io, MAIN_HELP);
  if (!(topic in COMMAND_HELP)) {
    io.stderr.write(`lit-streamctl: no command '${topic}'\nTry 'lit-streamctl --help'.\n`);
    return ExitCode.USAGE;
  }
  return print(io, COMMAND_HELP[topic as CommandName]);
}

function print(io: Io, text: string): ExitCode {
  io.stdout.write(text);
  return ExitCode.SUCCESS;
}
