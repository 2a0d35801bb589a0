import { describe, expect, it } from 'vitest';
import { formatSettle, judgeAction, judgeSettle, type JobOutcome, parseSettle, withLogs } from '../../src/core/actionResult.js';
import { InvalidArgumentError } from '../../src/core/errors.js';
import type { LogLine } from '../../src/core/logLine.js';
import type { Action, StreamStatus, StreamSummary } from '../../src/core/status.js';

const UNIT = 'lit-stream-contoso@bitcoin.service';

function stream(activeState: string, subState = 'running'): StreamSummary {
  return { team: 'contoso', name: 'bitcoin', unit: UNIT, loadState: 'loaded', activeState, subState };
}

function outcome(partial: Partial<JobOutcome> & { activeState?: string }): JobOutcome {
  const { activeState = 'active', ...rest } = partial;
  return { jobResult: 'done', unitResult: 'success', stream: stream(activeState), ...rest };
}

describe('judging a start/stop/restart', () => {
  describe('success', () => {
    it.each<[Action, string, string]>([
      ['start', 'active', 'Stream started successfully.'],
      ['stop', 'inactive', 'Stream stopped successfully.'],
      ['restart', 'active', 'Stream restarted successfully.'],
    ])("reports %s as SUCCESS when the job is 'done' and the unit is %s", (action, activeState, message) => {
      const o = outcome({ activeState });
      const result = judgeAction(action, o);
      expect(result).toEqual({ status: 'SUCCESS', message, jobResult: 'done', stream: o.stream });
    });

    it("reports stop as SUCCESS when the job is 'done' even though the unit's last run failed", () => {
      const result = judgeAction('stop', outcome({ activeState: 'failed', unitResult: 'signal', exitSignal: 9 }));
      expect(result.status).toBe('SUCCESS');
      expect(result.message).toBe('Stream stopped successfully.');
    });

    it("still succeeds when the unit is 'activating' rather than 'active'", () => {
      expect(judgeAction('start', outcome({ activeState: 'activating' })).status).toBe('SUCCESS');
    });
  });

  describe('failure', () => {
    it.each([['failed'], ['canceled'], ['timeout'], ['dependency'], ['skipped']])(
      "reports FAILURE when systemd's job ended '%s'",
      (jobResult) => {
        const result = judgeAction('start', outcome({ jobResult, activeState: 'inactive' }));
        expect(result.status).toBe('FAILURE');
        expect(result.jobResult).toBe(jobResult);
        expect(result.message).toContain(`'${jobResult}'`);
        expect(result.message).toContain(UNIT);
      },
    );

    it.each<[Action]>([['start'], ['restart']])(
      "reports %s as FAILURE when the job is 'done' but the unit has failed",
      (action) => {
        const result = judgeAction(action, outcome({ activeState: 'failed', unitResult: 'exit-code', exitStatus: 1 }));
        expect(result.status).toBe('FAILURE');
        expect(result.jobResult).toBe('done');
        expect(result.message).toContain("result 'exit-code'");
      },
    );

    it('explains a failure with the job result, unit result, exit status and unit name', () => {
      const result = judgeAction(
        'start',
        outcome({ jobResult: 'failed', activeState: 'failed', unitResult: 'exit-code', exitStatus: 3 }),
      );
      expect(result.message).toMatch(/^Stream failed to start: /);
      expect(result.message).toContain("start job ended 'failed'");
      expect(result.message).toContain("result 'exit-code'");
      expect(result.message).toContain('exit status 3');
      expect(result.message).toContain(`journalctl -u ${UNIT}`);
    });

    it('names the signal that killed the stream', () => {
      const result = judgeAction(
        'restart',
        outcome({ jobResult: 'done', activeState: 'failed', unitResult: 'signal', exitSignal: 9 }),
      );
      expect(result.message).toMatch(/^Stream failed to restart: /);
      expect(result.message).toContain("result 'signal'");
      expect(result.message).toContain('signal 9');
    });

    it('does not mention an exit status when none is known', () => {
      const result = judgeAction('stop', outcome({ jobResult: 'timeout', activeState: 'failed', unitResult: 'timeout' }));
      expect(result.message).toMatch(/^Stream failed to stop: /);
      expect(result.message).not.toContain('exit status');
    });

    it('mentions exit status 0 when that is what systemd reported', () => {
      const result = judgeAction('start', outcome({ jobResult: 'failed', activeState: 'failed', unitResult: 'exit-code', exitStatus: 0 }));
      expect(result.message).toContain('exit status 0');
    });

    it('returns the stream summary it was given', () => {
      const o = outcome({ jobResult: 'canceled', activeState: 'inactive' });
      expect(judgeAction('start', o).stream).toBe(o.stream);
    });
  });
});

describe('judging the settle window after a start job was done', () => {
  const started = judgeAction('start', outcome({}));
  const ended = (partial: Partial<StreamStatus>): StreamStatus => ({
    ...stream('failed', 'failed'),
    usageSource: 'none',
    restartCount: 0,
    result: 'exit-code',
    ...partial,
  });
  const line = (message: string, source: LogLine['source'] = 'worker'): LogLine => ({ timeUsec: 1n, priority: 6, message, cursor: 's=1;i=1', source });

  it('says how the worker ended, within how long', () => {
    expect(judgeSettle('start', started, ended({ exitStatus: 3 }), 1000).message).toBe('Stream failed to start: main process exited with status 3 within 1 s.');
    expect(judgeSettle('restart', started, ended({ exitSignal: 9, result: 'signal' }), 500).message).toBe(
      'Stream failed to restart: main process was killed by signal 9 within 500 ms.',
    );
    const result = judgeSettle('start', started, ended({ exitStatus: 3 }), 1500);
    expect(result.status).toBe('FAILURE');
    expect(result.jobResult).toBe('done');
    expect(result.stream.activeState).toBe('failed');
  });

  it('names a restart by systemd', () => {
    const restarting = ended({ activeState: 'activating', subState: 'auto-restart', exitStatus: 1 });
    expect(judgeSettle('start', started, restarting, 1000).message).toBe(
      'Stream failed to start: main process exited with status 1 within 1 s and systemd is restarting it (Restart=).',
    );
    // Seen `failed` first, on the way to auto-restart: systemd's answer right after tells.
    const onTheWay = judgeSettle('start', started, ended({ exitStatus: 1 }), 1000, restarting);
    expect(onTheWay.message).toMatch(/and systemd is restarting it/);
    expect(onTheWay.stream.subState).toBe('auto-restart');
    // Already restarted by the time systemd answered: the restart count grew.
    const again = judgeSettle('start', started, ended({ exitStatus: 1 }), 1000, ended({ activeState: 'active', subState: 'running', restartCount: 1 }));
    expect(again.message).toMatch(/main process exited with status 1 within 1 s and systemd is restarting it/);
    // Restarted while the job ran: running again when the window first looked, only the count
    // from before the job tells.
    const running = ended({ activeState: 'active', subState: 'running', result: 'success', restartCount: 3 });
    expect(judgeSettle('start', started, running, 500, running, 2).message).toBe(
      'Stream failed to start: systemd restarted the worker (Restart=) once since the start was asked for.',
    );
  });

  it("ends a failure's message with the worker's last line, not systemd's, and keeps the lines", () => {
    const failed = judgeSettle('start', started, ended({ exitStatus: 3 }), 1000);
    const lines = [line('connecting'), line('fatal: no upstream'), line('Main process exited', 'systemd')];
    const result = withLogs(failed, lines);
    expect(result.message).toBe('Stream failed to start: main process exited with status 3 within 1 s — last log: "fatal: no upstream"');
    expect(result.logs).toBe(lines);
    const jobFailed = withLogs(judgeAction('start', outcome({ jobResult: 'failed', activeState: 'failed', unitResult: 'exit-code', exitStatus: 1 })), [line('starting')]);
    expect(jobFailed.message).toMatch(/exit status 1 — last log: "starting"\. See: journalctl/);
    expect(withLogs(started, lines).message).toBe('Stream started successfully.');
  });

  it('reads a settle window from a request, refusing negative and overlong ones', () => {
    expect(parseSettle(undefined)).toBeUndefined();
    expect(parseSettle({ seconds: 1, nanos: 500_000_000 })).toBe(1500);
    expect(parseSettle({ seconds: 0, nanos: 0 })).toBe(0);
    expect(() => parseSettle({ seconds: -1, nanos: 0 })).toThrow(InvalidArgumentError);
    expect(() => parseSettle({ seconds: 3600, nanos: 0 })).toThrow(/between 0 and 300 s/);
    expect(formatSettle(250)).toBe('250 ms');
    expect(formatSettle(2500)).toBe('2.5 s');
  });
});
