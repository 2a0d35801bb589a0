import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActionStatus, ActiveState } from '../../gen/lit/stream/v1/stream.js';
import { activeStateWord } from '../../src/api/stateNames.js';
import { systemdSays } from './faults.js';
import { FIXTURE_UNITS, type Harness, rpc, startHarness } from './harness.js';

const WORKERS = Array.from({ length: 10 }, (_, i) => `w${i}`);

let h: Harness;
beforeAll(async () => {
  const units = { ...FIXTURE_UNITS };
  for (const name of WORKERS) units[`lit-stream-contoso@${name}.service`] = { link: 'lit-stream-contoso@.service' };
  h = await startHarness(units);
});
afterAll(async () => {
  await h?.stop();
});

describe('many calls at once', () => {
  it('answers 50 concurrent calls of every kind, each correctly', async () => {
    const calls: Promise<void>[] = [];
    for (let i = 0; i < 50; i++) {
      const name = WORKERS[i % WORKERS.length]!;
      const ref = { team: 'contoso', name };
      switch (i % 5) {
        case 0:
          calls.push(rpc(h.client, h.client.start, ref).then((r) => expect(r.status).toBe(ActionStatus.ACTION_STATUS_SUCCESS)));
          break;
        case 1:
          calls.push(rpc(h.client, h.client.getStatus, ref).then((r) => expect(r.status?.name).toBe(name)));
          break;
        case 2:
          calls.push(
            rpc(h.client, h.client.listStreams, { team: 'contoso', pageSize: 0, pageToken: '' }).then((r) =>
              expect(r.streams.map((s) => s.name)).toContain(name),
            ),
          );
          break;
        case 3:
          calls.push(rpc(h.client, h.client.restart, ref).then((r) => expect(r.status).toBe(ActionStatus.ACTION_STATUS_SUCCESS)));
          break;
        default:
          calls.push(rpc(h.client, h.client.getStatus, { team: 'contoso', name: 'bitcoin' }).then((r) => expect(r.status?.unit).toBeTruthy()));
      }
    }
    await Promise.all(calls);
  });

  it('never loses a job: 50 start/stop calls on fast units all return, and the units end where the last call left them', async () => {
    // Fast jobs are where JobRemoved can arrive before the StartUnit reply is handled.
    for (let round = 0; round < 5; round++) {
      const results = await Promise.all(
        WORKERS.map((name) => rpc(h.client, round % 2 === 0 ? h.client.stop : h.client.start, { team: 'contoso', name })),
      );
      expect(results.every((r) => r.status === ActionStatus.ACTION_STATUS_SUCCESS)).toBe(true);
      const expected = round % 2 === 0 ? ActiveState.ACTIVE_STATE_INACTIVE : ActiveState.ACTIVE_STATE_ACTIVE;
      expect(results.every((r) => r.stream?.activeState === expected)).toBe(true);
      // Where systemd has them, asked directly (not through the server).
      const systemd = await systemdSays(h.sandbox, 'contoso', WORKERS);
      expect(WORKERS.filter((name) => systemd.get(name)?.activeState !== activeStateWord(expected))).toEqual([]);
    }
  });
});
