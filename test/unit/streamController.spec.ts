import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { RunLines } from '../../src/control/runLines.js';
import { StreamController } from '../../src/control/streamController.js';
import { CancelledError, DeadlineExceededError, ServerShuttingDownError, StreamMaskedError, StreamNotDeclaredError, StreamUndeclaredError } from '../../src/core/errors.js';
import type { LogLine } from '../../src/core/logLine.js';
import type { Action, ActionResult, StreamSummary } from '../../src/core/status.js';
import { BusUnavailableError } from '../../src/systemd/errors.js';
import { CLD_EXITED, CLD_KILLED, FakeSystemd } from '../support/fakeSystemd.js';

/**
 * The controller's rules — declare, queue, job, judge, settle window, restart baseline — against a
 * fake systemd (test/support/fakeSystemd.ts). The real-systemd specs (settle, lifecycle,
 * actionQueue) are the proof that systemd behaves as the fake does; these say what the controller
 * makes of it, case by case.
 */

const REF = { team: 'contoso', name: 'bitcoin' };
const UNIT = 'lit-stream-contoso@bitcoin.service';
const HINT = `. See: journalctl -u ${UNIT}`;

function summary(activeState: string, subState: string, loadState = 'loaded'): StreamSummary {
  return { team: 'contoso', name: 'bitcoin', unit: UNIT, loadState, activeState, subState };
}

const RUNNING = summary('active', 'running');
const DEAD = summary('inactive', 'dead');

function success(action: Action, stream: StreamSummary, extra: Partial<ActionResult> = {}): ActionResult {
  const done = { start: 'started', stop: 'stopped', restart: 'restarted' }[action];
  return { status: 'SUCCESS', message: `Stream ${done} successfully.`, jobResult: 'done', stream, ...extra };
}

/** A fake systemd with `bitcoin` declared, and a controller on it (no settle window unless asked). */
function setup(options: { settleMs?: number; props?: Record<string, unknown>; type?: string; lines?: LogLine[] } = {}) {
  const systemd = new FakeSystemd();
  systemd.declare('bitcoin', { props: options.props, type: options.type });
  const read: { sinceUsec?: bigint }[] = [];
  const lines = options.lines
    ? new RunLines({ recent: async (_ref, _count, o = {}) => (read.push({ sinceUsec: o.sinceUsec }), options.lines!) }, systemd as never, async () => ({}))
    : undefined;
  const controller = new StreamController(systemd, systemd.naming, systemd, { settleMs: options.settleMs ?? 0, lines });
  return { systemd, controller, read };
}

const sentMethods = (systemd: FakeSystemd) => systemd.sent.map((job) => job.method);
const until = (condition: () => boolean, what: string) =>
  vi.waitFor(
    () => {
      if (!condition()) throw new Error(`waiting for ${what}`);
    },
    { interval: 1 },
  );
/** Lets every request and signal in flight be handled (the fake answers on the next turns). */
async function quiet(): Promise<void> {
  for (let turn = 0; turn < 8; turn++) await new Promise((resolve) => setImmediate(resolve));
}

describe('declare: only declared streams, proven against systemd', () => {
  it('never asks systemd about a stream the view does not show', async () => {
    const { systemd, controller } = setup();
    await expect(controller.start({ team: 'contoso', name: 'ghost' })).rejects.toThrow(StreamNotDeclaredError);
    expect(systemd.calls).toEqual(['view.declaration ghost']);
    expect(systemd.sent).toEqual([]);
  });

  it('refuses to start or restart a stream systemd has no unit file for, but stops it', async () => {
    const { systemd, controller } = setup();
    systemd.file(UNIT, { fileState: undefined });
    const why = `stream 'bitcoin' of team 'contoso' is not declared: there is no unit file ${UNIT} in systemd's unit search path`;
    await expect(controller.start(REF)).rejects.toThrow(new StreamNotDeclaredError(why));
    await expect(controller.restart(REF)).rejects.toThrow(new StreamNotDeclaredError(why));
    expect(systemd.sent).toEqual([]);
    expect(await controller.stop(REF)).toEqual(success('stop', DEAD));
    expect(sentMethods(systemd)).toEqual(['StopUnit']);
  });

  it('says a stream whose file went while it runs can be stopped, not started', async () => {
    const { systemd, controller } = setup();
    systemd.file(UNIT, { fileState: undefined, undeclared: true });
    const because = `(there is no unit file ${UNIT} in systemd's unit search path) but still runs`;
    await expect(controller.start(REF)).rejects.toThrow(
      new StreamUndeclaredError(`stream 'bitcoin' of team 'contoso' is no longer declared ${because}: it can be stopped, not started`),
    );
    await expect(controller.restart(REF)).rejects.toThrow(/: it can be stopped, not restarted$/);
    expect(systemd.sent).toEqual([]);
    await controller.stop(REF);
    expect(sentMethods(systemd)).toEqual(['StopUnit']);
  });

  it.each(['masked', 'masked-runtime'])('refuses to start or restart a %s stream, saying what to unmask; stops it', async (fileState) => {
    const { systemd, controller } = setup();
    systemd.file(UNIT, { fileState });
    const masked = `stream 'bitcoin' of team 'contoso' is masked (/nonexistent/config/systemd/user/${UNIT}); unmask ${UNIT} before you`;
    await expect(controller.start(REF)).rejects.toThrow(new StreamMaskedError(`${masked} start it`));
    await expect(controller.restart(REF)).rejects.toThrow(new StreamMaskedError(`${masked} restart it`));
    expect(systemd.sent).toEqual([]);
    expect(await controller.stop(REF)).toEqual(success('stop', DEAD));
  });

  it("takes systemd's word that a file is bad", async () => {
    const { systemd, controller } = setup();
    systemd.file(UNIT, { fileState: 'bad' });
    await expect(controller.start(REF)).rejects.toThrow(
      new StreamNotDeclaredError(`stream 'bitcoin' of team 'contoso' is not declared: systemd reports /nonexistent/config/systemd/user/${UNIT} as bad`),
    );
  });

  it('asks systemd for exactly the unit file of the stream', async () => {
    const { systemd, controller } = setup();
    await controller.start(REF);
    expect(systemd.calls.slice(0, 2)).toEqual(['view.declaration bitcoin', `ListUnitFilesByPatterns ${UNIT}`]);
    expect(systemd.sent).toEqual([{ path: '/org/freedesktop/systemd1/job/1', method: 'StartUnit', unit: UNIT, mode: 'replace' }]);
  });
});

describe('queue: one job at a time per unit, a Stop cancels what is queued', () => {
  it('sends the next Start only once systemd has removed the job before it', async () => {
    const { systemd, controller } = setup();
    systemd.hold();
    const first = controller.start(REF);
    const second = controller.restart(REF);
    await until(() => systemd.sent.length === 1 && controller.queuedActions(UNIT) === 1, 'the first job sent, the second queued');
    await quiet();
    expect(sentMethods(systemd)).toEqual(['StartUnit']);
    systemd.finish(UNIT);
    await until(() => systemd.sent.length === 2, 'the second job');
    expect(controller.queuedActions(UNIT)).toBe(0);
    systemd.finish(UNIT);
    expect(await first).toEqual(success('start', RUNNING));
    expect(await second).toEqual(success('restart', RUNNING));
    expect(sentMethods(systemd)).toEqual(['StartUnit', 'RestartUnit']);
  });

  it('sends a Stop while a start job runs; the stop job replaces it and the Start says so', async () => {
    const { systemd, controller } = setup();
    systemd.hold();
    const start = controller.start(REF);
    await until(() => systemd.sent.length === 1, 'the start job');
    const stop = controller.stop(REF);
    await until(() => systemd.sent.length === 2, 'the stop job, sent at once');
    expect(await start).toEqual({
      status: 'FAILURE',
      message: `Stream failed to start: systemd's start job ended 'canceled'${HINT}`,
      jobResult: 'canceled',
      stream: DEAD,
      logs: [],
    });
    systemd.finish(UNIT);
    expect(await stop).toEqual(success('stop', DEAD));
  });

  it('cancels the Starts and Restarts still waiting for their turn when a Stop comes: never sent', async () => {
    const { systemd, controller } = setup();
    systemd.hold();
    const running = controller.start(REF);
    await until(() => systemd.sent.length === 1, 'the first start job');
    const queuedRestart = controller.restart(REF);
    const queuedStart = controller.start(REF);
    await until(() => controller.queuedActions(UNIT) === 2, 'two queued');
    const stop = controller.stop(REF);
    const canceled = (action: Action): ActionResult => ({
      status: 'FAILURE',
      message: `Stream failed to ${action}: a Stop of the stream came while the ${action} waited for its turn, so it was canceled before it was sent to systemd.`,
      jobResult: 'canceled',
      stream: DEAD,
    });
    expect(await queuedRestart).toEqual(canceled('restart'));
    expect(await queuedStart).toEqual(canceled('start'));
    expect((await running).jobResult).toBe('canceled');
    systemd.finish(UNIT);
    expect(await stop).toEqual(success('stop', DEAD));
    expect(sentMethods(systemd)).toEqual(['StartUnit', 'StopUnit']);
  });

  it('queues a Start that comes after a Stop behind it', async () => {
    const { systemd, controller } = setup({ props: { ActiveState: 'active', SubState: 'running' } });
    systemd.hold();
    const stop = controller.stop(REF);
    await until(() => systemd.sent.length === 1, 'the stop job');
    const start = controller.start(REF);
    await until(() => controller.queuedActions(UNIT) === 1, 'the start queued');
    await quiet();
    expect(sentMethods(systemd)).toEqual(['StopUnit']);
    systemd.finish(UNIT);
    await until(() => systemd.sent.length === 2, 'the start job');
    systemd.finish(UNIT);
    expect(await stop).toEqual(success('stop', DEAD));
    expect(await start).toEqual(success('start', RUNNING));
  });

  it('sends nothing once shutdown has begun', async () => {
    const { systemd, controller } = setup();
    controller.closeActions();
    await expect(controller.start(REF)).rejects.toThrow(new ServerShuttingDownError('lit-streamd is shutting down: the start was not sent to systemd'));
    expect(systemd.sent).toEqual([]);
  });

  it('keeps, whatever the order of arrivals and finished jobs: every caller answered, Starts sent in order, a last Stop wins', async () => {
    const step = fc.oneof(
      fc.constantFrom<Action>('start', 'stop', 'restart').map((action) => ({ arrive: action })),
      fc.constant({ finish: true as const }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 14 }), async (steps) => {
        const { systemd, controller } = setup();
        systemd.hold();
        const arrivals: { action: Action; answer: Promise<ActionResult> }[] = [];
        let settled = 0;
        for (const s of steps) {
          if ('arrive' in s) {
            // Arrived means in the unit's queue: proving the declaration reads the file system, so
            // wait until it is queued, sent, or answered.
            const [queued, sent, answered] = [controller.queuedActions(UNIT), systemd.sent.length, settled];
            const answer = controller[s.arrive](REF);
            void answer.finally(() => settled++).catch(() => undefined);
            arrivals.push({ action: s.arrive, answer });
            await until(() => controller.queuedActions(UNIT) > queued || systemd.sent.length > sent || settled > answered, `the ${s.arrive} to arrive`);
          } else if (systemd.jobOf(UNIT)) systemd.finish(UNIT);
          await quiet();
        }
        await vi.waitFor(() => {
          if (systemd.jobOf(UNIT)) systemd.finish(UNIT);
          expect(settled).toBe(arrivals.length);
        });
        const answers = await Promise.all(arrivals.map(({ answer }) => answer));
        // Every Stop is sent and succeeds; a Start or Restart succeeds or was canceled (by systemd, or before it was sent).
        arrivals.forEach(({ action }, i) => {
          const { status, jobResult } = answers[i]!;
          if (action === 'stop') expect([status, jobResult]).toEqual(['SUCCESS', 'done']);
          else expect([status, jobResult]).toContainEqual(status === 'SUCCESS' ? 'done' : 'canceled');
          if (status === 'FAILURE') expect(answers[i]!.message).toMatch(/canceled/);
        });
        // A Start or Restart canceled before it was sent had a Stop come after it.
        arrivals.forEach(({ action }, i) => {
          if (action !== 'stop' && /before it was sent/.test(answers[i]!.message)) {
            expect(arrivals.slice(i + 1).some((later) => later.action === 'stop')).toBe(true);
          }
        });
        // Sent: every Stop, and the Starts and Restarts not canceled before, in arrival order.
        const expected = arrivals.filter(({ action }, i) => action === 'stop' || !/before it was sent/.test(answers[i]!.message));
        expect(systemd.sent.map((job) => job.method).filter((m) => m !== 'StopUnit')).toEqual(
          expected.filter(({ action }) => action !== 'stop').map(({ action }) => (action === 'start' ? 'StartUnit' : 'RestartUnit')),
        );
        expect(systemd.sent.filter((job) => job.method === 'StopUnit')).toHaveLength(arrivals.filter(({ action }) => action === 'stop').length);
        // Nothing that came before a Stop starts the stream again after it.
        if (arrivals.at(-1)?.action === 'stop') expect(systemd.props(UNIT).ActiveState).toBe('inactive');
        expect(controller.queuedActions(UNIT)).toBe(0);
      }),
      { numRuns: 60 },
    );
  });
});

describe("judge: systemd's job result and the unit's state", () => {
  it('answers a plain success from what the view already holds: no read of the unit', async () => {
    const { systemd, controller } = setup();
    expect(await controller.start(REF)).toEqual(success('start', RUNNING));
    expect(systemd.calls.filter((call) => call.startsWith('GetAll') || call.startsWith('view.unitState'))).toEqual([]);
  });

  it("reads the unit whole after a failed job and names systemd's reasons", async () => {
    const { systemd, controller } = setup();
    systemd.outcome = () => ({
      result: 'failed',
      props: { ActiveState: 'failed', SubState: 'failed', Result: 'exit-code', ExecMainCode: CLD_EXITED, ExecMainStatus: 1 },
    });
    expect(await controller.start(REF)).toEqual({
      status: 'FAILURE',
      message: `Stream failed to start: systemd's start job ended 'failed', the unit is failed with result 'exit-code', exit status 1${HINT}`,
      jobResult: 'failed',
      stream: summary('failed', 'failed'),
      logs: [],
    });
    expect(systemd.calls).toContain(`view.unitState ${UNIT}`);
  });

  it('judges a start job done on a unit that is failed as a failure', async () => {
    const { systemd, controller } = setup();
    systemd.outcome = () => ({ result: 'done', props: { ActiveState: 'failed', SubState: 'failed', Result: 'signal', ExecMainCode: CLD_KILLED, ExecMainStatus: 9 } });
    expect(await controller.start(REF)).toEqual({
      status: 'FAILURE',
      message: `Stream failed to start: systemd's start job ended 'done', the unit is failed with result 'signal', killed by signal 9${HINT}`,
      jobResult: 'done',
      stream: summary('failed', 'failed'),
      logs: [],
    });
    // What the view holds of a failed unit may lack systemd's reasons: read whole.
    expect(systemd.calls).toContain(`view.unitState ${UNIT}`);
  });

  it('judges a stop job done as a success even when the last run ended failed', async () => {
    const { systemd, controller } = setup({ props: { ActiveState: 'active', SubState: 'running' } });
    systemd.outcome = () => ({ result: 'done', props: { ActiveState: 'failed', SubState: 'failed', Result: 'signal' } });
    expect(await controller.stop(REF)).toEqual(success('stop', summary('failed', 'failed')));
  });

  it('says a running unit whose LoadState systemd did not announce is loaded', async () => {
    const { systemd, controller } = setup({ props: { LoadState: '' } });
    systemd.outcome = () => ({ result: 'done', props: { ActiveState: 'active', SubState: 'running' } });
    expect(systemd.knownState(UNIT)?.LoadState).toBe('');
    expect((await controller.start(REF)).stream).toEqual(RUNNING);
    expect(systemd.calls.filter((call) => call.startsWith('view.unitState'))).toEqual([]);
  });
});

describe('the settle window: a started worker must hold', () => {
  /** Starts with a window, and resolves once the Start waits in it. */
  async function inWindow(settleMs: number, options: Parameters<typeof setup>[0] = {}) {
    const s = setup({ ...options, settleMs });
    const answer = s.controller.start(REF);
    void answer.catch(() => undefined);
    await until(() => s.systemd.following === 1, 'the Start in its window');
    return { ...s, answer };
  }

  it('succeeds once the worker ran the whole window, with the lines of this start', async () => {
    const ready: LogLine = { timeUsec: 1n, priority: 6, message: 'ready', cursor: 'c1', source: 'worker' };
    const before = BigInt(Date.now()) * 1000n;
    const { systemd, controller, read } = setup({ settleMs: 40, lines: [ready] });
    const began = performance.now();
    expect(await controller.start(REF)).toEqual(success('start', RUNNING, { logs: [ready] }));
    expect(performance.now() - began).toBeGreaterThanOrEqual(39);
    expect(read).toHaveLength(1);
    expect(read[0]!.sinceUsec).toBeGreaterThanOrEqual(before);
    expect(systemd.calls).toContain(`Get Type ${UNIT}`);
    expect(systemd.following).toBe(0);
  });

  it('fails at once when the main process exits, quoting its last line', async () => {
    const fatal: LogLine = { timeUsec: 2n, priority: 3, message: 'fatal: no upstream', cursor: 'c2', source: 'worker' };
    const why: LogLine = { timeUsec: 3n, priority: 5, message: 'Main process exited, code=exited, status=3/NOTIMPLEMENTED', cursor: 'c3', source: 'systemd' };
    const { systemd, answer } = await inWindow(30_000, { lines: [fatal, why] });
    systemd.set(UNIT, { ActiveState: 'failed', SubState: 'failed', Result: 'exit-code', ExecMainCode: CLD_EXITED, ExecMainStatus: 3, MainPID: 0 });
    expect(await answer).toEqual({
      status: 'FAILURE',
      message: 'Stream failed to start: main process exited with status 3 within 30 s — last log: "fatal: no upstream"',
      jobResult: 'done',
      stream: summary('failed', 'failed'),
      logs: [fatal, why],
    });
    expect(systemd.following).toBe(0);
  });

  it("fails when the worker ended inside the window though systemd's signal of it came only after", async () => {
    const { systemd, answer } = await inWindow(40);
    const ended = BigInt(Date.now()) * 1000n;
    systemd.setUnannounced(UNIT, { ActiveState: 'failed', SubState: 'failed', Result: 'exit-code', ExecMainCode: CLD_EXITED, ExecMainStatus: 3, MainPID: 0, StateChangeTimestamp: ended });
    expect(await answer).toMatchObject({ status: 'FAILURE', message: 'Stream failed to start: main process exited with status 3 within 40 ms.', stream: summary('failed', 'failed') });
  });

  it('succeeds when the worker ended only after the window, by the time systemd is asked', async () => {
    const { systemd, answer } = await inWindow(40);
    const afterTheWindow = BigInt(Date.now() + 60_000) * 1000n;
    systemd.setUnannounced(UNIT, { ActiveState: 'failed', SubState: 'failed', Result: 'exit-code', ExecMainCode: CLD_EXITED, ExecMainStatus: 3, MainPID: 0, StateChangeTimestamp: afterTheWindow });
    expect(await answer).toMatchObject({ status: 'SUCCESS', message: 'Stream started successfully.' });
  });

  it('fails when the worker is killed by a signal', async () => {
    const { systemd, answer } = await inWindow(1_500);
    systemd.set(UNIT, { ActiveState: 'failed', SubState: 'failed', Result: 'signal', ExecMainCode: CLD_KILLED, ExecMainStatus: 9 });
    expect((await answer).message).toBe('Stream failed to start: main process was killed by signal 9 within 1.5 s.');
  });

  it('fails when systemd is about to restart the worker (auto-restart), and says so', async () => {
    const { systemd, answer } = await inWindow(1_000);
    systemd.set(UNIT, { ActiveState: 'activating', SubState: 'auto-restart', Result: 'exit-code', ExecMainCode: CLD_EXITED, ExecMainStatus: 1 });
    expect(await answer).toEqual({
      status: 'FAILURE',
      message: 'Stream failed to start: main process exited with status 1 within 1 s and systemd is restarting it (Restart=).',
      jobResult: 'done',
      stream: summary('activating', 'auto-restart'),
      logs: [],
    });
  });

  it('ends whenever systemd says it is about to restart the worker, whatever the ActiveState', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('active', 'reloading', 'activating', 'deactivating', 'failed', 'inactive'), async (activeState) => {
        const { systemd, answer } = await inWindow(30_000);
        systemd.set(UNIT, { ActiveState: activeState, SubState: 'auto-restart' });
        const result = await answer;
        expect(result.status).toBe('FAILURE');
        expect(result.message).toMatch(/ and systemd is restarting it \(Restart=\)\.$/);
      }),
      { numRuns: 12 },
    );
  });

  it('fails when NRestarts grows, even if the worker runs again by the time anyone looks', async () => {
    const { systemd, answer } = await inWindow(1_000);
    systemd.set(UNIT, { NRestarts: 1 });
    expect(await answer).toEqual({
      status: 'FAILURE',
      message: 'Stream failed to start: systemd restarted the worker (Restart=) once since the start was asked for.',
      jobResult: 'done',
      stream: RUNNING,
      logs: [],
    });
  });

  it('counts a reload as running', async () => {
    const { systemd, answer } = await inWindow(60);
    systemd.set(UNIT, { ActiveState: 'reloading', SubState: 'reload' });
    expect(await answer).toEqual(success('start', RUNNING, { logs: [] }));
  });

  it('fails when the unit merely goes inactive', async () => {
    const { systemd, answer } = await inWindow(1_000);
    systemd.set(UNIT, { ActiveState: 'inactive', SubState: 'dead' });
    expect((await answer).message).toBe('Stream failed to start: the unit went inactive/dead within 1 s.');
  });

  it('counts restarts from before the job: a stopped unit counts from 0 without asking, so a restart while the job ran shows', async () => {
    const { systemd, controller } = setup({ settleMs: 1_000 });
    systemd.outcome = () => ({ result: 'done', props: { ActiveState: 'active', SubState: 'running', NRestarts: 2 } });
    expect((await controller.start(REF)).message).toBe('Stream failed to start: systemd restarted the worker (Restart=) 2 times since the start was asked for.');
    expect(systemd.calls.filter((call) => call.startsWith('Get NRestarts'))).toEqual([]);
  });

  it("counts a running unit's restarts from systemd's count, read before the job is sent", async () => {
    const { systemd, controller } = setup({ settleMs: 30, props: { ActiveState: 'active', SubState: 'running', NRestarts: 5 } });
    expect(await controller.start(REF)).toEqual(success('start', RUNNING, { logs: [] }));
    const read = systemd.calls.indexOf(`Get NRestarts ${UNIT}`);
    expect(read).toBeGreaterThan(-1);
    expect(read).toBeLessThan(systemd.calls.indexOf(`StartUnit ${UNIT}`));
  });

  it('counts a Restart of a running unit from 0 without asking (systemd zeroes the count when it stops the unit)', async () => {
    const { systemd, controller } = setup({ settleMs: 30, props: { ActiveState: 'active', SubState: 'running', NRestarts: 5 } });
    expect(await controller.restart(REF)).toEqual(success('restart', RUNNING, { logs: [] }));
    expect(systemd.calls.filter((call) => call.startsWith('Get NRestarts'))).toEqual([]);
  });

  it('reads no restart count and opens no window when the window is 0', async () => {
    const { systemd, controller } = setup({ settleMs: 0, props: { ActiveState: 'active', SubState: 'running', NRestarts: 5 } });
    expect(await controller.start(REF)).toEqual(success('start', RUNNING));
    expect(systemd.calls.filter((call) => /^(Get |view\.follow)/.test(call))).toEqual([]);
  });

  it('takes the window from the request over the server default', async () => {
    const { systemd, controller } = setup({ settleMs: 30_000 });
    expect(await controller.start(REF, { settleMs: 0 })).toEqual(success('start', RUNNING));
    expect(systemd.calls.filter((call) => call.startsWith('view.follow'))).toEqual([]);
  });

  it.each(['oneshot', 'notify', 'notify-reload'])('does not apply to Type=%s, whose start job already waits for the worker', async (type) => {
    const { systemd, controller } = setup({ settleMs: 30_000, type });
    expect(await controller.start(REF)).toEqual(success('start', RUNNING, { logs: [] }));
    expect(systemd.calls.filter((call) => call.startsWith('view.follow'))).toEqual([]);
  });

  it.each(['simple', 'exec', 'forking', 'dbus', 'idle'])('applies to Type=%s', async (type) => {
    const { systemd, answer } = await inWindow(30_000, { type });
    systemd.set(UNIT, { ActiveState: 'inactive', SubState: 'dead' });
    expect((await answer).status).toBe('FAILURE');
  });

  it('is not opened for a job that failed, nor for a Stop', async () => {
    const { systemd, controller } = setup({ settleMs: 30_000 });
    systemd.outcome = () => ({ result: 'timeout', props: { ActiveState: 'failed', SubState: 'failed', Result: 'timeout' } });
    expect((await controller.start(REF)).jobResult).toBe('timeout');
    systemd.outcome = () => ({ result: 'done', props: { ActiveState: 'inactive', SubState: 'dead' } });
    expect(await controller.stop(REF)).toEqual(success('stop', DEAD));
    expect(systemd.calls.filter((call) => /^(Get |view\.follow)/.test(call))).toEqual([]);
  });

  it('ends, as a success that says so, when a later Stop is sent inside it', async () => {
    const { controller, answer } = await inWindow(30_000);
    expect(await controller.stop(REF)).toEqual(success('stop', DEAD));
    const result = await answer;
    expect(result).toEqual({ ...success('start', RUNNING, { logs: [] }), message: expect.stringMatching(/^Stream started; a later Stop of the stream was sent \d+ ms into the 30 s settle window, which ended there\.$/) });
  });

  it('ends the same way when a later Restart is sent inside it', async () => {
    const { controller, answer } = await inWindow(30_000);
    expect(await controller.restart(REF, { settleMs: 0 })).toEqual(success('restart', RUNNING));
    expect((await answer).message).toMatch(/^Stream started; a later Restart of the stream was sent \d+ ms into the 30 s settle window, which ended there\.$/);
  });

  it('goes on when a later Start is sent inside it (it changes nothing in systemd)', async () => {
    const { systemd, controller, answer } = await inWindow(60);
    expect(await controller.start(REF, { settleMs: 0 })).toEqual(success('start', RUNNING));
    expect(await answer).toEqual(success('start', RUNNING, { logs: [] }));
    expect(sentMethods(systemd)).toEqual(['StartUnit', 'StartUnit']);
  });

  it('answers UNAVAILABLE when the session the job ran on ends inside it', async () => {
    const { systemd, answer } = await inWindow(30_000);
    systemd.endSession(new BusUnavailableError('systemd left the bus'));
    await expect(answer).rejects.toThrow(
      new BusUnavailableError(
        'the session with systemd ended within the 30 s settle window (systemd left the bus): systemd had started the stream; whether its worker holds is not known',
      ),
    );
    expect(systemd.following).toBe(0);
  });

  it('answers UNAVAILABLE when the session ended as the job finished, even if a new one is up', async () => {
    const { systemd, controller } = setup({ settleMs: 30_000 });
    systemd.hold();
    const answer = controller.start(REF);
    await until(() => systemd.sent.length === 1, 'the start job');
    systemd.finish(UNIT);
    systemd.endSession();
    systemd.reconnect();
    await expect(answer).rejects.toThrow(/^the session with systemd ended within the 30 s settle window \(it ended as the job finished\): /);
  });

  it("ends with the caller's deadline, saying systemd had started the stream", async () => {
    const { controller } = setup({ settleMs: 30_000 });
    await expect(controller.start(REF, { deadline: Date.now() + 1_000 })).rejects.toThrow(
      new DeadlineExceededError('the deadline passed while waiting 30000 ms for the worker to hold; systemd had started it'),
    );
  });

  it('ends when the caller goes away', async () => {
    const caller = new AbortController();
    const { systemd, controller } = setup({ settleMs: 30_000 });
    const answer = controller.start(REF, { signal: caller.signal });
    await until(() => systemd.following === 1, 'the window');
    caller.abort();
    await expect(answer).rejects.toThrow(CancelledError);
    expect(systemd.following).toBe(0);
  });
});
