import { describe, expect, it } from 'vitest';
import { judgeAction, type JobOutcome } from '../../src/core/actionResult.js';
import type { Action, StreamSummary } from '../../src/core/status.js';

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
