import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UnitNaming } from '../core/unitNaming.js';
import { EmbeddedSystemd } from '../dev/embeddedSystemd.js';
import { DEFAULT_LISTEN, parseConfig, USAGE } from './config.js';
import { runDaemon } from './main.js';

const REPO = resolve(fileURLToPath(import.meta.url), '../../../..');
const TICKER = join(REPO, 'examples', 'ticker.mjs');
const DEMO_TEAM = 'contoso';
const DEMO_STREAMS = ['bitcoin', 'ethereum'] as const;

/**
 * `npm start`: lit-streamd on this host's systemd when PID 1 is systemd (sd_booted(): the
 * directory /run/systemd/system exists), otherwise on an embedded systemd user manager with a demo
 * team whose streams run examples/ticker.mjs. Stops everything it started on Ctrl-C or SIGTERM.
 */
async function demo(): Promise<void> {
  const args = process.argv.slice(2);
  const embedded = args.includes('--embedded') || !existsSync('/run/systemd/system');
  const config = parseConfig(args.filter((arg) => arg !== '--embedded'), process.env);
  if (config === 'help') {
    process.stdout.write(`${USAGE}  --embedded              run on an embedded systemd even if this host has one\n`);
    return;
  }
  // Log lines for whoever watches the terminal; JSON when stdout is a pipe or a file.
  const prettyLog = process.stdout.isTTY;
  if (!embedded) {
    await runDaemon(config, { prettyLog });
    process.stderr.write(`\nServing this host's systemd on ${config.bus}. Declare a stream: see README.md.\n`);
    return;
  }

  const sandbox = await EmbeddedSystemd.boot();
  const naming = new UnitNaming(config.unitPrefix);
  const template = naming.templateOf(DEMO_TEAM);
  await sandbox.writeUnit(
    template,
    `[Unit]
Description=lit-stream demo price ticker %i (team ${DEMO_TEAM})

[Service]
Type=exec
ExecStart=${process.execPath} ${TICKER} %i
Restart=on-failure

[Install]
WantedBy=default.target
`,
  );
  // In the user's data directory, where Disable (systemctl disable) leaves the declaration be.
  for (const name of DEMO_STREAMS) await sandbox.linkUnit(naming.unitOf({ team: DEMO_TEAM, name }), template, 'data');
  await sandbox.reload();

  const server = await runDaemon(
    { ...config, bus: sandbox.busAddress, journalDirectory: sandbox.journalDirectory },
    { prettyLog, onStopped: () => sandbox.shutdown() },
  );
  const first = DEMO_STREAMS[0];
  const address = server.address;
  // lit-streamctl (this clone's build) finds the default address by itself: the clients' is ours.
  const ctl = address === DEFAULT_LISTEN ? 'npx lit-streamctl' : `LIT_STREAM_ADDR=${address} npx lit-streamctl`;
  process.stderr.write(`
lit-streamd is serving an embedded systemd (${sandbox.busAddress})
with team '${DEMO_TEAM}' and streams ${DEMO_STREAMS.map((s) => `'${s}'`).join(', ')} (each runs examples/ticker.mjs).

Try it from another terminal:
  ${ctl} list ${DEMO_TEAM}
  ${ctl} start ${DEMO_TEAM}/${first}
  ${ctl} enable --now ${DEMO_TEAM}/${first}
  ${ctl} status ${DEMO_TEAM}/${first}
  ${ctl} logs -f ${DEMO_TEAM}/${first}

  grpcurl -plaintext ${address} list
  grpcurl -plaintext -d '{"team":"${DEMO_TEAM}"}' ${address} lit.stream.v1.StreamService/ListStreams
  grpcurl -plaintext -d '{"team":"${DEMO_TEAM}","name":"${first}"}' ${address} lit.stream.v1.StreamService/Start
  grpcurl -plaintext -d '{"team":"${DEMO_TEAM}","name":"${first}"}' ${address} lit.stream.v1.StreamService/GetStatus

  LIT_STREAM_ADDR=${address} node --input-type=module -e "import { Stream } from '@lit-stream/client'; const s = new Stream('${DEMO_TEAM}', '${first}'); console.log(await s.start()); console.log(await s.status())"
  LIT_STREAM_ADDR=${address} node --input-type=module -e "import { getStreams } from '@lit-stream/client'; console.log(await getStreams('${DEMO_TEAM}'))"

  # the ticker's output once started, then each new line (Ctrl-C ends it)
  grpcurl -plaintext -d '{"team":"${DEMO_TEAM}","name":"${first}","follow":true}' ${address} lit.stream.v1.StreamService/Logs
  LIT_STREAM_ADDR=${address} node --input-type=module -e "import { Stream } from '@lit-stream/client'; for await (const l of new Stream('${DEMO_TEAM}', '${first}').logs({ follow: true })) console.log(l.message)"

Ctrl-C stops the server and the embedded systemd.
`);
}

demo().catch((error: unknown) => {
  process.stderr.write(`lit-stream demo: ${(error as Error).message}\n`);
  process.exit(1);
});
