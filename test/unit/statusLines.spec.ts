import { status as grpcStatus } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import {
  activeText,
  countLine,
  eventLine,
  hostErrorLines,
  isRunning,
  logExcerpt,
  namesSeveralHosts,
  stateGlyph,
  statusBlock,
  statusJson,
  statusTable,
} from '../../clients/typescript/src/cli/statusView.js';
import { LitStreamError } from '../../clients/typescript/src/errors.js';
import type { ServiceStatus } from '../../clients/typescript/src/index.js';

type Details = ServiceStatus['details'];

function statusOf(details: Partial<Details> & { name?: string; pid?: number | null }): ServiceStatus {
  const name = details.name ?? 'bitcoin';
  const full = {
    team: 'contoso',
    unit: `lit-stream-contoso@${name}.service`,
    loadState: 'loaded',
    activeState: 'active',
    subState: 'running',
    usageSource: 'procfs' as const,
    restartCount: 0,
    result: 'success',
    ...details,
  } as Details;
  return { name, active: full.activeState, status: full.subState, started: null, pid: details.pid ?? null, tasks: null, memory: null, details: full };
}

/** Paints as `[style|text]`, so that a spec sees which style each piece gets. */
const marked = (style: string | undefined, text: string) => (style ? `[${style}|${text}]` : text);
const plain = (_style: unknown, text: string) => text;
const now = new Date('2026-11-25T12:00:00Z');

describe('how a stream reads in lit-streamctl (as systemctl would say it)', () => {
  it.each([
    ['active', '●', 'good'],
    ['reloading', '●', 'good'],
    ['activating', '●', undefined],
    ['deactivating', '●', undefined],
    ['failed', '×', 'bad'],
    ['inactive', '○', undefined],
    ['maintenance', '○', undefined],
    ['', '○', undefined],
  ])('%j has the glyph %s', (activeState, text, style) => {
    expect(stateGlyph(activeState)).toEqual(style ? { text, style } : { text });
  });

  it.each([
    [{ activeState: 'active', subState: 'running' }, 'active (running)'],
    [{ activeState: 'inactive', subState: 'dead' }, 'inactive (dead)'],
    [{ activeState: 'failed', subState: 'failed', result: 'exit-code' }, 'failed (Result: exit-code)'],
    [{ activeState: 'failed', subState: 'failed', result: '' }, 'failed (Result: unknown)'],
    [{ activeState: '', subState: '' }, 'unknown (unknown)'],
  ])('Active: %j reads %j', (details, text) => {
    expect(activeText(statusOf(details))).toBe(text);
  });

  it.each([
    ['active', true],
    ['reloading', true],
    ['activating', false],
    ['inactive', false],
    ['failed', false],
  ])('status exits 0 for %j: %s', (activeState, running) => {
    expect(isRunning(statusOf({ activeState }))).toBe(running);
  });

  it('says "not loaded" for a unit systemd has not loaded, and the unit file state when the server gives one', () => {
    const [, loaded] = statusBlock(statusOf({ loadState: '' }), now, plain);
    expect(loaded).toBe('     Loaded: not loaded (lit-stream-contoso@bitcoin.service)');
    const [, enabled] = statusBlock(statusOf({ unitFileState: 'enabled' }), now, plain);
    expect(enabled).toBe('     Loaded: loaded (lit-stream-contoso@bitcoin.service; enabled)');
  });

  it('prints Tasks only when there is a figure', () => {
    const withTasks = { ...statusOf({}), tasks: 3 };
    expect(statusBlock(withTasks, now, plain)).toContain('      Tasks: 3');
    expect(statusBlock(statusOf({}), now, plain).some((line) => line.includes('Tasks'))).toBe(false);
  });

  it("ends status with the run's log lines after a blank line, or why there are none", () => {
    const withLogs = statusOf({
      logs: [{ kind: 'line', time: now, priority: 6, pid: 4408, message: 'connected to the feed', cursor: 's=1', source: 'worker' }],
    });
    const excerpt = logExcerpt(withLogs, plain);
    expect(excerpt).toHaveLength(2);
    expect(excerpt[0]).toBe('');
    expect(excerpt[1]).toContain('connected to the feed');
    expect(logExcerpt(statusOf({ logsUnavailable: 'the journal is not readable' }), marked)).toEqual([
      '',
      '[dim|(no log lines: the journal is not readable)]',
    ]);
    expect(logExcerpt(statusOf({}), plain)).toEqual([]);
  });

  describe('the list', () => {
    const header = (lines: string[]) => lines[0]!.split(/\s+/).filter(Boolean);

    it('marks a failed stream and a unit that is not loaded, each in red', () => {
      const lines = statusTable(
        [
          statusOf({ name: 'ok' }),
          statusOf({ name: 'broken', activeState: 'failed', subState: 'failed' }),
          statusOf({ name: 'missing', loadState: 'not-found', activeState: 'inactive', subState: 'dead' }),
          statusOf({ name: 'idle', loadState: '', activeState: 'inactive', subState: 'dead' }),
        ],
        now,
        marked,
      );
      const row = (name: string) => lines.find((line) => line.includes(` ${name} `) || line.includes(`${name} `))!;
      expect(row('ok')).not.toContain('[bad|●');
      expect(row('broken')).toContain('[bad|●');
      expect(row('missing')).toContain('[bad|●');
      expect(row('missing')).toContain('[bad|not-found');
      expect(row('idle')).not.toContain('[bad|');
      expect(row('idle')).toMatch(/idle\s+-\s/);
      expect(row('ok')).toContain('[good|active');
      expect(row('broken')).toContain('[bad|failed');
    });

    it('shows MEMORY only with usage figures, and HOST after NAME for a fleet', () => {
      const statuses = [statusOf({ name: 'a', host: 'feed-1' }), statusOf({ name: 'b' })];
      expect(header(statusTable(statuses, now, plain))).toEqual(['NAME', 'LOAD', 'ENABLED', 'ACTIVE', 'SUB', 'UPTIME', 'PID', 'MEMORY']);
      expect(header(statusTable(statuses, now, plain, false))).toEqual(['NAME', 'LOAD', 'ENABLED', 'ACTIVE', 'SUB', 'UPTIME', 'PID']);
      const fleet = statusTable(statuses, now, plain, false, true);
      expect(header(fleet)).toEqual(['NAME', 'HOST', 'LOAD', 'ENABLED', 'ACTIVE', 'SUB', 'UPTIME', 'PID']);
      expect(fleet[1]!.split(/\s+/).filter(Boolean).slice(0, 3)).toEqual(['a', 'feed-1', 'loaded']);
      expect(fleet[2]!.split(/\s+/).filter(Boolean).slice(0, 3)).toEqual(['b', '-', 'loaded']);
    });

    it('is a fleet\'s when its streams name more than one host', () => {
      expect(namesSeveralHosts([statusOf({ host: 'feed-1' }), statusOf({ host: 'feed-2' })])).toBe(true);
      expect(namesSeveralHosts([statusOf({ host: 'feed-1' }), statusOf({ host: 'feed-1' })])).toBe(false);
      expect(namesSeveralHosts([statusOf({})])).toBe(false);
      expect(namesSeveralHosts([])).toBe(false);
    });

    it('lists the hosts that did not answer, one line each', () => {
      const lines = hostErrorLines([
        { host: 'feed-2', error: new LitStreamError(grpcStatus.UNAVAILABLE, 'connect ECONNREFUSED\n  10.0.0.2:50051') },
        { host: 'feed-3', error: new LitStreamError(grpcStatus.DEADLINE_EXCEEDED, 'no answer within 5 s') },
      ]);
      expect(lines).toEqual(['  feed-2: UNAVAILABLE: connect ECONNREFUSED 10.0.0.2:50051', '  feed-3: DEADLINE_EXCEEDED: no answer within 5 s']);
    });

    it('counts streams in words', () => {
      expect(countLine(0, 'listed.')).toBe('0 streams listed.');
      expect(countLine(1, 'listed.')).toBe('1 stream listed.');
      expect(countLine(2, 'listed.')).toBe('2 streams listed.');
    });
  });

  it('writes a watch event as one line on a pipe', () => {
    expect(eventLine({ kind: 'CHANGED', status: statusOf({ pid: 4408 }) })).toBe('changed contoso/bitcoin active (running), pid 4408');
    expect(eventLine({ kind: 'INITIAL', status: statusOf({ activeState: 'inactive', subState: 'dead' }) })).toBe(
      'initial contoso/bitcoin inactive (dead)',
    );
    expect(eventLine({ kind: 'REMOVED', status: statusOf({ pid: 4408 }) })).toBe('removed contoso/bitcoin');
  });

  it('puts the team first in -o json', () => {
    const status = statusOf({});
    const json = statusJson(status);
    expect(Object.keys(json)[0]).toBe('team');
    expect(json).toEqual({ team: 'contoso', ...status });
  });
});
