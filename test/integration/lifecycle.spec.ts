import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActionStatus, ActiveState, LoadState, UsageSource } from '../../gen/lit/stream/v1/stream.js';
import { type Harness, rpc, rpcError, startHarness, waitFor } from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.stop();
});

const bitcoin = { team: 'contoso', name: 'bitcoin' };
const unit = 'lit-stream-contoso@bitcoin.service';

describe('a stream through its life: start, status, restart, stop', () => {
  it('starts a declared stream and says so in the seed SDK words', async () => {
    const response = await rpc(h.client, h.client.start, bitcoin);
    expect(response.status).toBe(ActionStatus.ACTION_STATUS_SUCCESS);
    expect(response.message).toBe('Stream started successfully.');
    expect(response.jobResult).toBe('done');
    expect(response.stream).toMatchObject({ unit, activeState: ActiveState.ACTIVE_STATE_ACTIVE, subState: 'running' });
    expect((await h.unitState(unit)).ActiveState).toBe('active');
  });

  it('reports the status systemd has: main pid, start time, tasks and memory', async () => {
    const { status: s } = await rpc(h.client, h.client.getStatus, bitcoin);
    const systemd = await h.unitState(unit);
    expect(s).toBeDefined();
    expect(s!.unit).toBe(unit);
    expect(s!.loadState).toBe(LoadState.LOAD_STATE_LOADED);
    expect(s!.activeState).toBe(ActiveState.ACTIVE_STATE_ACTIVE);
    expect(s!.subState).toBe('running');
    expect(s!.mainPid).toBe(systemd.MainPID);
    expect(s!.mainPid).toBeGreaterThan(1);
    expect(Math.abs(s!.started!.getTime() - Date.now())).toBeLessThan(10_000);
    expect(s!.started!.getTime()).toBe(systemd.ActiveEnterTimestamp!.getTime());
    expect(s!.result).toBe('success');
    expect(s!.restartCount).toBe(0);
  });

  it('takes tasks and memory from /proc when systemd accounting is off, and says so', async () => {
    const systemd = await h.unitState(unit);
    expect(systemd.TasksCurrent).toBeUndefined(); // accounting is off in the sandbox (UINT64_MAX)
    let { status: s } = await rpc(h.client, h.client.getStatus, bitcoin);
    expect(s!.usageSource).toBe(UsageSource.USAGE_SOURCE_PROCFS);
    // A read of /proc has 250 ms (PROCFS_SAMPLE); on a loaded machine it can run out, and the answer
    // then says its figures are partial instead of guessing. A read asked for afresh completes.
    await waitFor(
      async () => {
        if (!s!.usagePartial) return true;
        s = (await rpc(h.client, h.client.getStatus, { ...bitcoin, freshUsage: true })).status;
        return false;
      },
      30_000,
      'a complete reading of the worker in /proc',
    );
    expect(s!.usageSource).toBe(UsageSource.USAGE_SOURCE_PROCFS);
    expect(s!.tasks).toBeGreaterThanOrEqual(1);
    expect(s!.memoryBytes).toBeGreaterThan(0);
  });

  it('restarts a running stream into a new main process', async () => {
    const before = (await h.unitState(unit)).MainPID;
    const response = await rpc(h.client, h.client.restart, bitcoin);
    expect(response.status).toBe(ActionStatus.ACTION_STATUS_SUCCESS);
    expect(response.message).toBe('Stream restarted successfully.');
    const after = (await rpc(h.client, h.client.getStatus, bitcoin)).status!.mainPid;
    expect(after).toBeDefined();
    expect(after).not.toBe(before);
    expect(after).toBe((await h.unitState(unit)).MainPID);
  });

  it('stops a running stream', async () => {
    const response = await rpc(h.client, h.client.stop, bitcoin);
    expect(response.status).toBe(ActionStatus.ACTION_STATUS_SUCCESS);
    expect(response.message).toBe('Stream stopped successfully.');
    expect((await h.unitState(unit)).ActiveState).toBe('inactive');
    const { status: s } = await rpc(h.client, h.client.getStatus, bitcoin);
    expect(s!.activeState).toBe(ActiveState.ACTIVE_STATE_INACTIVE);
    expect(s!.mainPid).toBeUndefined();
    expect(s!.started).toBeUndefined();
    expect(s!.usageSource).toBe(UsageSource.USAGE_SOURCE_UNSPECIFIED);
  });

  it('stopping a stopped stream succeeds', async () => {
    const response = await rpc(h.client, h.client.stop, bitcoin);
    expect(response.status).toBe(ActionStatus.ACTION_STATUS_SUCCESS);
    expect(response.message).toBe('Stream stopped successfully.');
  });

  it('restarting a stopped stream starts it', async () => {
    const response = await rpc(h.client, h.client.restart, { team: 'contoso', name: 'ethereum' });
    expect(response.status).toBe(ActionStatus.ACTION_STATUS_SUCCESS);
    expect((await h.unitState('lit-stream-contoso@ethereum.service')).ActiveState).toBe('active');
    await rpc(h.client, h.client.stop, { team: 'contoso', name: 'ethereum' });
  });
});

describe('a stream whose worker fails', () => {
  it('reports FAILURE with systemd\'s reason when ExecStart exits 1', async () => {
    const response = await rpc(h.client, h.client.start, { team: 'contoso', name: 'crash' });
    expect(response.status).toBe(ActionStatus.ACTION_STATUS_FAILURE);
    expect(response.jobResult).toBe('failed');
    expect(response.message).toContain("job ended 'failed'");
    expect(response.message).toContain("result 'exit-code'");
    expect(response.message).toContain('exit status 1');
    expect(response.stream?.activeState).toBe(ActiveState.ACTIVE_STATE_FAILED);
  });

  it('shows the failure in its status: failed, exit-code, exit status 1', async () => {
    const { status: s } = await rpc(h.client, h.client.getStatus, { team: 'contoso', name: 'crash' });
    expect(s!.activeState).toBe(ActiveState.ACTIVE_STATE_FAILED);
    expect(s!.result).toBe('exit-code');
    expect(s!.exitStatus).toBe(1);
    expect(s!.exitSignal).toBeUndefined();
  });

  it('stops a failed stream: SUCCESS, and the unit keeps its failed result', async () => {
    const response = await rpc(h.client, h.client.stop, { team: 'contoso', name: 'crash' });
    expect(response.status).toBe(ActionStatus.ACTION_STATUS_SUCCESS);
    expect(response.stream?.activeState).toBe(ActiveState.ACTIVE_STATE_FAILED);
  });
});

describe("the caller's deadline", () => {
  it('returns DEADLINE_EXCEEDED when systemd takes longer, and the job still completes', async () => {
    const slow = { team: 'contoso', name: 'slow' };
    const error = await rpcError(h.client, h.client.start, slow, 300);
    expect(error.code).toBe(status.DEADLINE_EXCEEDED);
    // The server itself noticed and logged the deadline, and keeps serving.
    const { status: s } = await rpc(h.client, h.client.getStatus, slow);
    expect(s!.activeState).toBe(ActiveState.ACTIVE_STATE_ACTIVATING);
    // The job goes on in systemd without its caller: its 2 s ExecStartPre, then the worker runs.
    const running = async () => {
      const systemd = await h.unitState('lit-stream-contoso@slow.service');
      const { streams } = await rpc(h.client, h.client.listStreams, { team: 'contoso', pageSize: 0, pageToken: '' });
      const listed = streams.find((stream) => stream.name === 'slow');
      return systemd.ActiveState === 'active' && systemd.SubState === 'running' && listed?.activeState === ActiveState.ACTIVE_STATE_ACTIVE;
    };
    await waitFor(running, 10_000, 'the start job to complete in systemd, and the server to show it');
    const stopped = await rpc(h.client, h.client.stop, slow);
    expect(stopped.status).toBe(ActionStatus.ACTION_STATUS_SUCCESS);
  });
});

describe('logging', () => {
  it('writes one line per RPC with method, team, stream, code and duration', () => {
    const starts = h.logs.filter((line) => line.msg === 'rpc' && line.method === 'Start');
    expect(starts.length).toBeGreaterThanOrEqual(2);
    expect(starts[0]).toMatchObject({ team: 'contoso', stream: 'bitcoin', code: 'OK' });
    expect(typeof starts[0]!.durationMs).toBe('number');
    expect(h.logs.some((line) => line.method === 'Start' && line.code === 'DEADLINE_EXCEEDED')).toBe(true);
  });
});
