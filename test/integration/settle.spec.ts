import { type ServiceError, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActionStatus, ActiveState, LogSource } from '../../gen/lit/stream/v1/stream.js';
import { currentSession, killBusDaemon, reconnected, reexecuteSystemd } from './faults.js';
import { SystemdManager } from '../../src/systemd/manager.js';
import { type Harness, rpc, rpcError, startHarness, waitFor } from './harness.js';

/**
 * Start and Restart wait until the worker holds: a simple service's start job is `done` as soon as
 * its process is spawned, so a worker that dies at once used to be reported as started.
 */
const UNITS: Record<string, string | { link: string }> = {
  // The default Type=simple, as a new user would write it.
  'lit-stream-contoso@false.service': '[Service]\nExecStart=/bin/false\n',
  'lit-stream-contoso@dies.service':
    "[Service]\nType=exec\nExecStart=/bin/sh -c 'echo connecting; echo \"fatal: no upstream\" >&2; sleep 0.3; exit 3'\n",
  'lit-stream-contoso@loop.service':
    // It lives 100 ms after its line: journald cannot tell which unit a line came from once the
    // process that wrote it is gone (see docs/semantics.md, "Logs"), and this spec is about the restart.
    "[Service]\nType=exec\nExecStart=/bin/sh -c 'echo \"boom\"; sleep 0.1; exit 1'\nRestart=always\nRestartSec=100ms\n",
  'lit-stream-contoso@healthy.service': "[Service]\nType=exec\nExecStart=/bin/sh -c 'echo ready; exec sleep infinity'\n",
  'lit-stream-contoso@late.service': "[Service]\nType=exec\nExecStart=/bin/sh -c 'sleep 2; exit 3'\n",
  // Restarted many times in a row (no start rate limit): its lines come at once after the fork.
  'lit-stream-contoso@chatty.service':
    "[Unit]\nStartLimitIntervalSec=0\n[Service]\nType=exec\nExecStart=/bin/sh -c 'echo first line; echo to stderr >&2; exec sleep infinity'\n",
  'lit-stream-contoso@once.service': "[Service]\nType=oneshot\nExecStart=/bin/sh -c 'echo done'\n",
  'lit-stream-contoso@steady.service': '[Service]\nType=exec\nExecStart=/bin/sleep infinity\n',
  // A crash loop whose runs outlive a short window: each run lives 2 s, then systemd restarts it 1 s
  // later (time enough for a Start to reach systemd while it waits to).
  'lit-stream-contoso@flapping.service':
    "[Unit]\nStartLimitIntervalSec=0\n[Service]\nType=exec\nExecStart=/bin/sh -c 'echo up; sleep 2; exit 1'\nRestart=always\nRestartSec=1s\n",
  'lit-stream-contoso@.service': '[Service]\nType=exec\nExecStart=/bin/sleep infinity\n',
};
/** Streams started together, more than Node's default of 10 listeners per event. */
const CROWD = Array.from({ length: 12 }, (_, i) => `crowd${i}`);
for (const name of CROWD) UNITS[`lit-stream-contoso@${name}.service`] = { link: 'lit-stream-contoso@.service' };

let h: Harness;
beforeAll(async () => {
  // The server's own default settle window (1 s), not the harness's 0.
  h = await startHarness(UNITS, { settleMs: undefined, metricsListen: '127.0.0.1:0' });
});
afterAll(async () => {
  await h?.stop();
});

const stream = (name: string) => ({ team: 'contoso', name });

/**
 * Runs `action` with the settle window of `name`'s unit held from beginning until the unit has
 * failed and the server's view has taken in all of it: the window's first step, reading the unit's
 * Type=, waits for that (a delay of our own call; systemd and the worker are real). The window then
 * begins with the worker dead and nothing more on its way to the view, so the status it starts
 * with is the one that tells. systemd saying `failed` is not enough: the view may not have heard it
 * yet, and it reads a unit whose properties systemd invalidated again (one GetAll) when asked about
 * it next — by the window itself — announcing the answer on a later turn of the event loop: a
 * window begun before either sees the failure arrive as a change.
 */
async function windowBeginningAfterItFailed<T>(name: string, action: () => Promise<T>): Promise<T> {
  const unit = `lit-stream-contoso@${name}.service`;
  // ListStreams answers from the view as it stands, never asking systemd.
  const failedInBoth = async () => {
    if ((await h.unitState(unit)).ActiveState !== 'failed') return false;
    const { streams } = await rpc(h.client, h.client.listStreams, { team: 'contoso', pageSize: 0, pageToken: '' });
    return streams.find((stream) => stream.name === name)?.activeState === ActiveState.ACTIVE_STATE_FAILED;
  };
  const read = SystemdManager.prototype.getUnitProperty;
  SystemdManager.prototype.getUnitProperty = async function (this: SystemdManager, ...args: Parameters<typeof read>) {
    if (args[0] === unit && args[2] === 'Type') {
      await waitFor(failedInBoth, 10_000, `${unit} to fail, in systemd and in ListStreams`);
      // GetStatus does that read now; its answer reaches us after the view announced it (the
      // announcement is on the turn after the read, the answer crosses a socket).
      await rpc(h.client, h.client.getStatus, { team: 'contoso', name });
    }
    return read.apply(this, args);
  };
  try {
    return await action();
  } finally {
    SystemdManager.prototype.getUnitProperty = read;
  }
}

describe('Start and Restart wait until the worker holds (settle window)', () => {
  it('reports a worker that exits at once (ExecStart=/bin/false) as a failed start, with the reason', async () => {
    // The window begins once the worker is dead: it judges the status it starts with.
    const response = await windowBeginningAfterItFailed('false', () => rpc(h.client, h.client.start, stream('false')));
    expect(response.status).toBe(ActionStatus.ACTION_STATUS_FAILURE);
    // Usually the job is done while the process still runs and the window sees it dead; on a busy
    // machine it may have exited before systemd reported the job. Either way systemd's reason.
    expect(response.message).toMatch(/^Stream failed to start: (main process exited with status 1 within 1 s|.*exit status 1)/);
    expect(response.stream?.activeState).toBe(ActiveState.ACTIVE_STATE_FAILED);
    expect(response.logs.some((line) => line.source === LogSource.LOG_SOURCE_SYSTEMD && /status=1\/FAILURE/.test(line.message))).toBe(true);
  });

  it('reports a worker that dies after 300 ms as a failed start, at once, quoting its last line', async () => {
    const startedAt = Date.now();
    const response = await rpc(h.client, h.client.start, stream('dies'));
    expect(response.status).toBe(ActionStatus.ACTION_STATUS_FAILURE);
    expect(response.message).toBe('Stream failed to start: main process exited with status 3 within 1 s — last log: "fatal: no upstream"');
    const worker = response.logs.filter((line) => line.source === LogSource.LOG_SOURCE_WORKER).map((line) => line.message);
    expect(worker).toEqual(['connecting', 'fatal: no upstream']);
    // Answered when the worker died, not when the window would have ended (generous margin: 2 cores).
    expect(Date.now() - startedAt).toBeLessThan(5_000);
  });

  it('reports a worker that died before the window began as a failed start, at once, quoting its last line', async () => {
    const startedAt = Date.now();
    const response = await windowBeginningAfterItFailed('dies', () => rpc(h.client, h.client.start, stream('dies')));
    expect(response.status).toBe(ActionStatus.ACTION_STATUS_FAILURE);
    expect(response.message).toBe('Stream failed to start: main process exited with status 3 within 1 s — last log: "fatal: no upstream"');
    expect(Date.now() - startedAt).toBeLessThan(5_000);
  });

  it('reports a crash loop (Restart=always) as a failed start that names the restart', async () => {
    const response = await rpc(h.client, h.client.start, stream('loop'));
    expect(response.status).toBe(ActionStatus.ACTION_STATUS_FAILURE);
    // Usually the job is done before the first crash (then the window sees the restart); on a busy
    // machine the worker may crash before systemd has finished the job. Either way: the restart.
    expect(response.message).toMatch(/^Stream failed to start: .*exit(ed with)? status 1.* systemd is restarting it/);
    expect(response.message).toContain('— last log: "boom"');
    await rpc(h.client, h.client.stop, stream('loop'));
  });

  it('reports a healthy worker as started once the window has passed, with its lines', async () => {
    const startedAt = Date.now();
    const response = await rpc(h.client, h.client.start, stream('healthy'));
    expect(response.status).toBe(ActionStatus.ACTION_STATUS_SUCCESS);
    expect(response.message).toBe('Stream started successfully.');
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(1_000);
    expect(response.logs.map((line) => line.message)).toContain('ready');
    expect((await h.unitState('lit-stream-contoso@healthy.service')).ActiveState).toBe('active');
  });

  it('reports a Start of a crash-looping stream as failed when systemd restarted it while the start job ran', async () => {
    // Started once and left to crash: systemd is about to restart it (auto-restart).
    await rpc(h.client, h.client.start, { ...stream('flapping'), settle: { seconds: 0, nanos: 0 } });
    await waitFor(async () => (await h.unitState('lit-stream-contoso@flapping.service')).SubState === 'auto-restart', 10_000, 'the first crash');
    // systemd holds a start job until its own restart is done (service_start(): EAGAIN while in
    // auto-restart), so the job is `done` on a run that systemd restarted, and which then lives
    // longer than this window: only the restart count from before the job tells.
    const response = await rpc(h.client, h.client.start, { ...stream('flapping'), settle: { seconds: 0, nanos: 500_000_000 } });
    expect(response.status).toBe(ActionStatus.ACTION_STATUS_FAILURE);
    expect(response.message).toMatch(/^Stream failed to start: systemd restarted the worker \(Restart=\) once since the start was asked for/);
    await rpc(h.client, h.client.stop, stream('flapping'));
  });

  it('lets many Starts wait in their windows at once without piling listeners on one emitter', async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      const answers = await Promise.all(CROWD.map((name) => rpc(h.client, h.client.start, { ...stream(name), settle: { seconds: 0, nanos: 300_000_000 } })));
      expect(answers.map((answer) => answer.status)).toEqual(CROWD.map(() => ActionStatus.ACTION_STATUS_SUCCESS));
      // Node reports a likely listener leak by a warning (emitted on the next tick).
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.filter((warning) => warning.name === 'MaxListenersExceededWarning').map(String)).toEqual([]);
    } finally {
      process.off('warning', onWarning);
      await Promise.all(CROWD.map((name) => rpc(h.client, h.client.stop, stream(name))));
    }
  });

  it('applies the window to Restart too', async () => {
    const response = await rpc(h.client, h.client.restart, stream('dies'));
    expect(response.status).toBe(ActionStatus.ACTION_STATUS_FAILURE);
    expect(response.message).toMatch(/^Stream failed to restart: main process exited with status 3 within 1 s — last log: "fatal: no upstream"$/);
  });

  it('takes the window from the request: 0 turns it off, a shorter one still holds, a negative one is refused', async () => {
    // A worker that dies 2 s after it started: answered at once with the window off, found out
    // with a window longer than its life.
    const off = await rpc(h.client, h.client.start, { ...stream('late'), settle: { seconds: 0, nanos: 0 } });
    expect(off.status).toBe(ActionStatus.ACTION_STATUS_SUCCESS); // what systemd's job says, and no more
    const long = await rpc(h.client, h.client.restart, { ...stream('late'), settle: { seconds: 10, nanos: 0 } });
    expect(long.status).toBe(ActionStatus.ACTION_STATUS_FAILURE);
    expect(long.message).toMatch(/main process exited with status 3 within 10 s/);
    const short = await rpc(h.client, h.client.restart, { ...stream('healthy'), settle: { seconds: 0, nanos: 200_000_000 } });
    expect(short.status).toBe(ActionStatus.ACTION_STATUS_SUCCESS);
    const bad = await rpcError(h.client, h.client.start, { ...stream('healthy'), settle: { seconds: -1, nanos: 0 } });
    expect(bad.code).toBe(status.INVALID_ARGUMENT);
  });

  it('does not apply to Type=oneshot, whose start job ends only when the process has succeeded', async () => {
    // The unit is inactive once its job is done: with the window applied, that would be a failure.
    const response = await rpc(h.client, h.client.start, stream('once'));
    expect(response.status).toBe(ActionStatus.ACTION_STATUS_SUCCESS);
    expect(response.stream?.activeState).toBe(ActiveState.ACTIVE_STATE_INACTIVE);
  });

  it("answers DEADLINE_EXCEEDED when the caller's deadline ends inside the window", async () => {
    await rpc(h.client, h.client.stop, stream('healthy'));
    const error = await rpcError(h.client, h.client.start, { ...stream('healthy'), settle: { seconds: 30, nanos: 0 } }, 1_500);
    expect(error.code).toBe(status.DEADLINE_EXCEEDED);
  });
});

/**
 * Starts `steady` with a long window and resolves once its start job is done and the Start waits in
 * its window (the window follows the stream: the view's follower count says when it began).
 */
async function startInsideWindow(seconds = 30) {
  // Nothing else in this file keeps a window open once its call has ended (the server may take a
  // moment to see a call that gave up, e.g. on its deadline, end).
  await waitFor(() => h.server.view.followerCount === 0, 10_000, 'earlier settle windows to end');
  const start = rpc(h.client, h.client.start, { ...stream('steady'), settle: { seconds, nanos: 0 } }, 60_000);
  await waitFor(() => h.server.view.followerCount === 1, 10_000, 'the Start to wait in its settle window');
  expect((await h.unitState('lit-stream-contoso@steady.service')).SubState).toBe('running');
  return { start };
}

/** The server's `lit_stream_open_watches` gauge, as Prometheus would scrape it. */
async function openWatches(): Promise<number> {
  const response = await fetch(`http://${h.server.metricsAddress}/metrics`, { signal: AbortSignal.timeout(10_000) });
  const gauge = /^lit_stream_open_watches (\S+)$/m.exec(await response.text());
  if (!gauge) throw new Error('no lit_stream_open_watches in /metrics');
  return Number(gauge[1]);
}

describe('a settle window is no WatchStatus call', () => {
  it('counts no open watch while a Start waits in its window, and one for a WatchStatus opened meanwhile', async () => {
    const { start } = await startInsideWindow();
    expect(await openWatches()).toBe(0);
    const watch = h.client.watchStatus({ team: 'contoso', name: 'steady' });
    watch.on('error', () => undefined);
    await new Promise((resolve) => watch.once('data', resolve));
    expect(await openWatches()).toBe(1);
    watch.cancel();
    await waitFor(async () => (await openWatches()) === 0, 5_000, 'the watch to close');
    // Still in its window: the Start has not been answered.
    expect(h.server.view.followerCount).toBe(1);
    await rpc(h.client, h.client.stop, stream('steady'));
    expect((await start).status).toBe(ActionStatus.ACTION_STATUS_SUCCESS);
  });
});

describe('a Start whose settle window another action cuts short', () => {
  it('is not answered as a failed start when a Stop from another caller stops the stream inside it', async () => {
    const { start } = await startInsideWindow();
    const stop = await rpc(h.client, h.client.stop, stream('steady'));
    expect(stop.status).toBe(ActionStatus.ACTION_STATUS_SUCCESS);
    const answer = await start;
    // systemd started it and it ran until the Stop: the Start succeeded, and says what followed.
    expect(answer.status).toBe(ActionStatus.ACTION_STATUS_SUCCESS);
    expect(answer.message).toMatch(/^Stream started; a later Stop of the stream was sent \d+ ms into the 30 s settle window, which ended there\.$/);
  });

  it('says so too when a Restart from another caller restarts it inside the window', async () => {
    const { start } = await startInsideWindow();
    const restart = await rpc(h.client, h.client.restart, { ...stream('steady'), settle: { seconds: 0, nanos: 0 } });
    expect(restart.status).toBe(ActionStatus.ACTION_STATUS_SUCCESS);
    const answer = await start;
    expect(answer.status).toBe(ActionStatus.ACTION_STATUS_SUCCESS);
    expect(answer.message).toMatch(/^Stream started; a later Restart of the stream was sent \d+ ms into the 30 s settle window, which ended there\.$/);
    await rpc(h.client, h.client.stop, stream('steady'));
  });
});

describe('GetStatus with log lines', () => {
  it('includes the newest lines since the stream last started, as systemctl status does', async () => {
    await rpc(h.client, h.client.restart, { ...stream('healthy'), settle: { seconds: 0, nanos: 0 } });
    await rpc(h.client, h.client.restart, { ...stream('healthy'), settle: { seconds: 0, nanos: 0 } });
    let unavailable = '';
    const lines = async () => {
      const response = await rpc(h.client, h.client.getStatus, { ...stream('healthy'), logLines: 10 });
      unavailable = response.logsUnavailable;
      return response.logs;
    };
    let got = await lines();
    for (const deadline = Date.now() + 15_000; !got.some((line) => line.message === 'ready') && Date.now() < deadline; ) got = await lines();
    expect(unavailable).toBe('');
    // This run's "ready" only, none of the earlier runs'; and systemd's "Started" line about it.
    expect(got.filter((line) => line.message === 'ready')).toHaveLength(1);
    expect(got.some((line) => line.source === LogSource.LOG_SOURCE_SYSTEMD && /^Started /.test(line.message))).toBe(true);
    expect(got.every((line) => line.cursor.startsWith('s='))).toBe(true);
  });

  it("has the run's first lines, which journald may stamp before systemd records the start, and none of the run before", async () => {
    // systemd stamps InactiveExitTimestamp after it forked the worker; a worker that writes at once
    // can be a fraction of a millisecond earlier in the journal (seen about once in 25 restarts).
    for (let round = 0; round < 15; round++) {
      await rpc(h.client, h.client.restart, { ...stream('chatty'), settle: { seconds: 0, nanos: 0 } });
      let logs: { message: string; source: LogSource }[] = [];
      const worker = () => logs.filter((line) => line.source === LogSource.LOG_SOURCE_WORKER).map((line) => line.message);
      for (const deadline = Date.now() + 15_000; worker().length < 2 && Date.now() < deadline; ) {
        logs = (await rpc(h.client, h.client.getStatus, { ...stream('chatty'), logLines: 10 })).logs;
      }
      expect(worker()).toEqual(['first line', 'to stderr']);
      expect(logs.filter((line) => /^Stopp/.test(line.message))).toEqual([]);
    }
  });

  it('includes none unless asked, and caps what it is asked', async () => {
    const plain = await rpc(h.client, h.client.getStatus, stream('healthy'));
    expect(plain.logs).toEqual([]);
    expect(plain.logsUnavailable).toBe('');
    const one = await rpc(h.client, h.client.getStatus, { ...stream('healthy'), logLines: 1 });
    expect(one.logs).toHaveLength(1);
  });
});

describe('a Start whose session with systemd ends inside its settle window', () => {
  // Last in this file: they cut the server off from systemd, and wait until it is back.
  /** Starts `steady` with a 10 s window, does `fault` inside it, and returns the Start's error and when it came. */
  async function faultInsideWindow(fault: () => Promise<unknown>) {
    const before = currentSession(h);
    const { start } = await startInsideWindow(10);
    const answer = start.then(
      (response) => ({ response, at: Date.now() }),
      (error: ServiceError) => ({ error, at: Date.now() }),
    );
    const faultAt = Date.now();
    await fault();
    const { error, response, at } = (await answer) as { error?: ServiceError; response?: unknown; at: number };
    await reconnected(h, before);
    await rpc(h.client, h.client.stop, stream('steady'));
    return { error, response, afterMs: at - faultAt };
  }

  it('answers UNAVAILABLE as soon as the bus daemon dies, not SUCCESS from a view no longer kept', async () => {
    const { error, response, afterMs } = await faultInsideWindow(() => killBusDaemon(h.sandbox));
    expect(response).toBeUndefined();
    expect(error?.code).toBe(status.UNAVAILABLE);
    expect(error?.details).toMatch(/^the session with systemd ended within the 10 s settle window \(.+\): systemd had started the stream; whether its worker holds is not known$/);
    // Well before the window would have ended (generous margin: 2 cores).
    expect(afterMs).toBeLessThan(8_000);
  });

  it('answers UNAVAILABLE when systemd re-executes (a new systemd on the bus) inside the window', async () => {
    const { error, afterMs } = await faultInsideWindow(() => reexecuteSystemd(h.sandbox));
    expect(error?.code).toBe(status.UNAVAILABLE);
    expect(error?.details).toMatch(/^the session with systemd ended within the 10 s settle window/);
    expect(afterMs).toBeLessThan(8_000);
  });
});
