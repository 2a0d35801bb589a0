import type { CommandName } from './commandLine.js';

/** `--help` texts: what each command does, its options, what it exits with, and examples. */

const CONNECTION = `Connection options (every command):
      --addr HOST:PORT   lit-streamd's address, or unix:/path/to.sock
                         (default: $LIT_STREAM_ADDR, else 127.0.0.1:50051)
      --token TOKEN      bearer token (default: $LIT_STREAM_TOKEN; prefer the variable,
                         a command line is visible to other users in ps)
      --ca FILE          CA certificate (PEM) the server's certificate is checked against;
                         any TLS option turns TLS on (default: $LIT_STREAM_CA)
      --cert FILE        client certificate (PEM), for mTLS (default: $LIT_STREAM_CERT)
      --key FILE         its private key (PEM) (default: $LIT_STREAM_KEY)
      --host HOST        through a fleet gateway: the streams of this host only (a stream
                         declared on several hosts needs it); default: whichever declares it
  -o, --output FORMAT    text (default) or json: one JSON object per line
  -h, --help             this help`;

const EXIT_STATUS = `Exit status (as systemctl's):
  0   success; for status: every stream named is running
  1   an action failed (systemd's job did not succeed), or another error
  2   wrong usage, or a team or name the server rejects as malformed
  3   status: a stream is not running
  4   status, logs: no such stream
  5   start, stop, restart, enable, disable: no such stream
  69  lit-streamd cannot be reached (or cannot reach systemd); list: no stream was
      listed and some host of the fleet did not answer (when some were listed: 0,
      and a warning names the hosts that did not answer)
  77  not authenticated, or not allowed
With several streams, the code of the first one that did not succeed, in the order named.`;

export const MAIN_HELP = `Usage: lit-streamctl [OPTIONS] COMMAND [ARGS...]

Controls the streams of a lit-streamd server, as systemctl controls units. A stream is named
TEAM/NAME: stream bitcoin of team contoso is contoso/bitcoin (the systemd unit
lit-stream-contoso@bitcoin.service on the server's host).

Commands:
  list TEAM                 the team's streams as a table, with their state
  status TEAM/NAME...       each stream's status, as systemctl status shows a unit
  start TEAM/NAME...        start streams (all at once), wait until systemd has
  stop TEAM/NAME...         stop streams
  restart TEAM/NAME...      restart streams
  enable [--now] TEAM/NAME...   start streams at boot (--now: and start them now)
  disable [--now] TEAM/NAME...  no longer start them at boot (--now: and stop them)
  logs TEAM/NAME            a stream's log lines, as journalctl -u shows a unit's (-n N, -f, --since)
  runs TEAM/NAME            a stream's recent runs: how each ended, and its last line
  watch TEAM                follow the team's streams as their state changes
  help [COMMAND]            this help, or a command's

${CONNECTION}
      --version          print lit-streamctl's version

${EXIT_STATUS}

Colours only on a terminal, and never when NO_COLOR is set.

Examples:
  lit-streamctl list contoso
  lit-streamctl status contoso/bitcoin
  lit-streamctl restart contoso/bitcoin contoso/ethereum
  lit-streamctl enable --now contoso/bitcoin
  lit-streamctl logs -f contoso/bitcoin
  LIT_STREAM_ADDR=feeds.internal:50051 LIT_STREAM_TOKEN=... lit-streamctl watch contoso

'lit-streamctl COMMAND --help' says more about a command.
`;

const ACTION_HELP = (verb: 'start' | 'stop' | 'restart', what: string) => `Usage: lit-streamctl ${verb} [OPTIONS] TEAM/NAME...

${what} Several streams are ${verb}ed at once; each answer is
printed in the order the streams were named, once systemd's job has finished: the server's message
on stdout, or the reason it failed on stderr with the stream's log lines since it last started.
While systemd works, a spinner on a terminal (nothing on a pipe).

${CONNECTION}

${EXIT_STATUS}

Examples:
  lit-streamctl ${verb} contoso/bitcoin
  lit-streamctl ${verb} contoso/bitcoin contoso/ethereum
  lit-streamctl ${verb} -o json contoso/bitcoin    {"team":"contoso","name":"bitcoin","action":"${verb}","status":"SUCCESS",...}
                                                 (a FAILURE has the log lines too: "logs":[...])
`;

const ENABLEMENT_HELP = (verb: 'enable' | 'disable') => `Usage: lit-streamctl ${verb} [--now] [OPTIONS] TEAM/NAME...

${
  verb === 'enable'
    ? `Makes each stream start at boot, as systemctl enable does: systemd creates the symlinks the
[Install] section of its unit file (or its team's template) asks for, e.g. WantedBy=default.target.
Enabling an enabled stream succeeds and changes nothing.`
    : `Makes each stream no longer start at boot, as systemctl disable does: systemd removes the
symlinks enable made. Disabling a stream that is not enabled succeeds and changes nothing.`
} Each answer is printed in the order the streams were named,
after the symlinks systemd ${verb === 'enable' ? 'created' : 'removed'}, as systemctl prints them.

Options:
      --now              also ${verb === 'enable' ? 'start the stream, answered as start is' : 'stop the stream, answered as stop is'}

${CONNECTION}

${EXIT_STATUS}

Examples:
  lit-streamctl ${verb} contoso/bitcoin
  lit-streamctl ${verb} --now contoso/bitcoin contoso/ethereum
  lit-streamctl ${verb} -o json contoso/bitcoin    {"team":"contoso","name":"bitcoin","action":"${verb}","status":"SUCCESS","changes":[...],...}
`;

export const COMMAND_HELP: Record<CommandName, string> = {
  list: `Usage: lit-streamctl list [OPTIONS] TEAM

Lists the team's streams, as systemctl list-units lists units: NAME, LOAD, ENABLED, ACTIVE and SUB
(systemd's LoadState, UnitFileState, ActiveState and SubState), UPTIME (since the stream last became active),
PID (its main process) and MEMORY, then how many there are. A failed stream is marked with ●.
With -o json, one line per stream with everything 'status -o json' prints.

${CONNECTION}

Examples:
  lit-streamctl list contoso
  lit-streamctl list -o json contoso | jq -r 'select(.active == "failed") | .name'
`,
  status: `Usage: lit-streamctl status [OPTIONS] TEAM/NAME...

Shows each stream's status, laid out as systemctl status shows a unit: ● coloured by state, the
unit, Loaded: (with whether it is enabled), Active: with when it started and how long ago, Main PID:, Tasks:, Memory: (tasks and
memory at most a second old), how often systemd restarted it, how its main process last exited,
then, when systemd restarted it since it was last started by hand, "Last runs:" (as 'runs' shows
them, the last 3), then its newest 10 log lines since it last started (log lines and runs need the
logs role). With -o json, one line per stream: the client
library's status() (name, active, status, started, pid, tasks, memory and the typed details, the
log lines among them), plus the team.

${CONNECTION}

${EXIT_STATUS}

Examples:
  lit-streamctl status contoso/bitcoin
  lit-streamctl status contoso/bitcoin contoso/ethereum
  lit-streamctl status contoso/bitcoin >/dev/null; echo $?     0 running, 3 not running, 4 no such stream
  lit-streamctl status -o json contoso/bitcoin | jq .details.memoryBytes
`,
  start: ACTION_HELP('start', 'Starts each stream and waits until systemd has started it.'),
  stop: ACTION_HELP('stop', 'Stops each stream and waits until systemd has stopped it; stopping a stopped stream succeeds.'),
  restart: ACTION_HELP('restart', 'Restarts each stream (starting it if it was stopped) and waits until systemd has.'),
  enable: ENABLEMENT_HELP('enable'),
  disable: ENABLEMENT_HELP('disable'),
  logs: `Usage: lit-streamctl logs [OPTIONS] TEAM/NAME

Shows the stream's log lines, as journalctl -u shows a unit's: what the worker wrote and what
systemd wrote about it, each as 'Nov 25 13:32:23 NAME[PID]: text' (systemd's lines as
'systemd[PID]'), coloured by priority on a terminal (errors red, warnings yellow). With -o json,
one line per log line: the client library's {kind, time, priority, pid, message, cursor, source}.

Options:
  -n, --lines N          the newest N lines (default 10; 'all': as many as the server sends
                         at once, 10000); with --since, at most N of the lines since then
  -f, --follow           then every new line as it is written, until Ctrl-C
      --since TIME       only lines since TIME, as journalctl reads it: '2026-11-25 13:32',
                         'today', 'yesterday', '-1h', '10min ago', '@1764000000'
                         (without -n: every line since then)

${CONNECTION}

Exit status: 0, or 4 for no such stream, and as 'lit-streamctl --help' says for the rest.

Examples:
  lit-streamctl logs contoso/bitcoin
  lit-streamctl logs -n 100 --since '1h ago' contoso/bitcoin
  lit-streamctl logs -f contoso/bitcoin
  lit-streamctl logs -o json -n all contoso/bitcoin | jq -r 'select(.priority <= 3) | .message'
`,
  runs: `Usage: lit-streamctl runs [OPTIONS] TEAM/NAME

Shows the stream's recent runs, newest first: STARTED and ENDED (running while it runs), RESULT
(systemd's: success, exit-code, signal, timeout, ...), EXIT (how its process ended, as systemctl
status writes it), RESTART (which automatic restart the run was; 0 for a start by hand) and its
worker's LAST LINE — what a crash loop looks like, run by run. With -o json, one line per run: the
client library's runs() ({invocationId, started, ended, result, exitCode, exitStatus, restart,
lastLines}). Needs the logs role on the team.

${CONNECTION}

${EXIT_STATUS}

Examples:
  lit-streamctl runs contoso/bitcoin
  lit-streamctl runs -o json contoso/bitcoin | jq -r 'select(.result != "success") | .lastLines[-1].message'
`,
  watch: `Usage: lit-streamctl watch [OPTIONS] TEAM

Follows the team's streams, including streams declared later, until Ctrl-C. On a terminal, a
table (NAME, LOAD, ACTIVE, SUB, UPTIME, PID) redrawn in place as states change; on a pipe, the
current state of each stream, then one line per change. With -o json, one line per event:
{"kind":"INITIAL"|"CHANGED"|"REMOVED","status":{...}}. Tasks and memory are not part of a watch
(systemd measures them, it does not signal them): see status.

${CONNECTION}

Examples:
  lit-streamctl watch contoso
  lit-streamctl watch contoso | grep --line-buffered failed
  lit-streamctl watch -o json contoso | jq -c 'select(.kind == "CHANGED") | [.status.name, .status.active]'
`,
  help: `Usage: lit-streamctl help [COMMAND]

Shows lit-streamctl's help, or a command's (as 'lit-streamctl COMMAND --help' does).

Examples:
  lit-streamctl help
  lit-streamctl help status
`,
};
