import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LogSource, type Run } from '../../gen/lit/stream/v1/stream.js';
import { closeSharedClients, Stream } from '../../clients/typescript/src/index.js';
import { streamctl, userEnv } from '../support/streamctl.js';
import { FIXTURE_UNITS, type Harness, rpc, rpcError, startHarness, waitFor } from './harness.js';

/**
 * ListRuns against the real server on the embedded systemd (a user manager: journald sets no
 * _SYSTEMD_INVOCATION_ID on its workers' lines, so runs are told apart by the manager's entries).
 * `crashloop` counts its runs in a file: the first exits 3, the second 4, the third is killed by
 * SIGKILL, the fourth stays; Restart=always starts each after the last. Each run says which it is
 * (and lingers a moment first: journald reads a line's unit from its writer's cgroup, which a
 * process that has exited no longer has).
 */
const CRASHLOOP = 'lit-stream-contoso@crashloop.service';
const UNITS = {
  [CRASHLOOP]: `[Service]
Type=exec
Restart=always
RestartSec=100ms
ExecStart=/bin/sh -c 'n=$$(cat %t/crashloop.runs 2>/dev/null || echo 0); n=$$((n+1)); echo $$n > %t/crashloop.runs; echo "run $$n begins"; echo "run $$n works"; sleep 0.2; case $$n in 1) exit 3;; 2) exit 4;; 3) kill -9 $$$$;; *) echo "run $$n stays"; exec sleep infinity;; esac'
`,
};

/**
 * Two workers whose first run says goodbye when stopped and whose next run fails at once, silent:
 * `restarter` says it as SIGTERM ends it, `slowstop` keeps saying it for a second while it stops.
 */
const RESTARTER = 'lit-stream-contoso@restarter.service';
const SLOWSTOP = 'lit-stream-contoso@slowstop.service';
const secondRunFails = (name: string, onTerm: string) =>
  `[Service]\nType=exec\nExecStart=/bin/sh -c 'n=$$(cat %t/${name}.runs 2>/dev/null || echo 0); n=$$((n+1)); echo $$n > %t/${name}.runs; if [ $$n -gt 1 ]; then exit 3; fi; trap "${onTerm}" TERM; echo "first run up"; sleep infinity & wait'\n`;
const GOODBYE_UNITS = {
  [RESTARTER]: secondRunFails('restarter', 'echo shutting down cleanly; exit 0'),
  // KillMode=mixed: SIGTERM to the main process alone, so it can take its time.
  [SLOWSTOP]: secondRunFails('slowstop', 'for i in 1 2 3 4 5; do echo still stopping $$i; sleep 0.2; done; exit 0').replace('Type=exec\n', 'Type=exec\nKillMode=mixed\n'),
};

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ ...FIXTURE_UNITS, ...UNITS, ...GOODBYE_UNITS });
});
afterAll(async () => {
  closeSharedClients();
  await h?.stop();
});

const crashloop = { team: 'contoso', name: 'crashloop' };
const workerLines = (run: Run) => run.lastLines.filter((line) => line.source === LogSource.LOG_SOURCE_WORKER).map((line) => line.message);

describe('ListRuns: a crash loop explained run by run', () => {
  it('lists the runs newest first, each with how it ended, which restart it was, and its own lines only', async () => {
    await h.sandbox.withManager((m) => m.StartUnit(CRASHLOOP, 'replace'));
    let runs: Run[] = [];
    await waitFor(
      async () => {
        runs = (await rpc(h.client, h.client.listRuns, { ...crashloop, limit: 10 })).runs;
        return runs.length === 4 && workerLines(runs[0]!).includes('run 4 stays');
      },
      20_000,
      'four runs, the fourth running',
    );
    const [fourth, third, second, first] = runs as [Run, Run, Run, Run];
    expect(first).toMatchObject({ result: 'exit-code', exitCode: 'exited', exitStatus: 3, restart: 0 });
    expect(second).toMatchObject({ result: 'exit-code', exitCode: 'exited', exitStatus: 4, restart: 1 });
    expect(third).toMatchObject({ result: 'signal', exitCode: 'killed', exitStatus: 9, restart: 2 });
    expect(fourth).toMatchObject({ result: '', exitCode: '', restart: 3, ended: undefined });
    [first, second, third, fourth].forEach((run, i) => {
      expect(run.invocationId).toMatch(/^[0-9a-f]{32}$/);
      const own = [`run ${i + 1} begins`, `run ${i + 1} works`, ...(i === 3 ? ['run 4 stays'] : [])];
      expect(workerLines(run), `run ${i + 1}`).toEqual(own);
      // systemd's lines about the run are its own too: its exit, its result.
      const systemd = run.lastLines.filter((line) => line.source === LogSource.LOG_SOURCE_SYSTEMD).map((line) => line.message);
      if (i < 3) expect(systemd.some((line) => /Main process exited/.test(line))).toBe(true);
      expect(run.started!.getTime()).toBeLessThanOrEqual(Date.now());
      if (i < 3) expect(run.ended!.getTime()).toBeGreaterThanOrEqual(run.started!.getTime());
    });
    expect(new Set(runs.map((run) => run.invocationId)).size).toBe(4);
    // Newest first, and no older run ended after a newer one began.
    for (let i = 0; i < 3; i++) expect(runs[i + 1]!.ended!.getTime()).toBeLessThanOrEqual(runs[i]!.started!.getTime());

    const two = (await rpc(h.client, h.client.listRuns, { ...crashloop, limit: 2 })).runs;
    expect(two.map((run) => run.invocationId)).toEqual([fourth.invocationId, third.invocationId]);
    expect(two[1]!.restart).toBe(2);
  });

  it('answers an empty list for a stream that never ran, and NOT_FOUND for one not declared', async () => {
    expect((await rpc(h.client, h.client.listRuns, { team: 'contoso', name: 'ethereum' })).runs).toEqual([]);
    expect((await rpcError(h.client, h.client.listRuns, { team: 'contoso', name: 'no-such-stream' })).code).toBe(status.NOT_FOUND);
    expect((await rpcError(h.client, h.client.listRuns, { team: 'contoso', name: 'bad*name' })).code).toBe(status.INVALID_ARGUMENT);
  });
});

describe('runs in the clients', () => {
  it("stream.runs() gives them in the TypeScript client's words", async () => {
    const runs = await new Stream('contoso', 'crashloop', { address: h.address }).runs({ limit: 4 });
    expect(runs.map(({ result, exitCode, exitStatus, restart }) => ({ result, exitCode, exitStatus, restart }))).toEqual([
      { result: null, exitCode: null, exitStatus: null, restart: 3 },
      { result: 'signal', exitCode: 'killed', exitStatus: 9, restart: 2 },
      { result: 'exit-code', exitCode: 'exited', exitStatus: 4, restart: 1 },
      { result: 'exit-code', exitCode: 'exited', exitStatus: 3, restart: 0 },
    ]);
    expect(runs[3]!.lastLines.filter((line) => line.source === 'worker').map((line) => line.message)).toEqual(['run 1 begins', 'run 1 works']);
  });

  it('lit-streamctl runs prints a table with how each run ended and its last line; status adds "Last runs:"', async () => {
    const env = userEnv({ LIT_STREAM_ADDR: h.address });
    const table = await streamctl(['runs', 'contoso/crashloop'], env);
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^STARTED +ENDED +RESULT +EXIT +RESTART +LAST LINE$/);
    expect(lines.slice(1)).toEqual([
      expect.stringMatching(/ running +3 run 4 stays$/),
      expect.stringMatching(/ signal +code=killed, signal=KILL +2 run 3 works$/),
      expect.stringMatching(/ exit-code +code=exited, status=4 +1 run 2 works$/),
      expect.stringMatching(/ exit-code +code=exited, status=3 +0 run 1 works$/),
    ]);
    const json = await streamctl(['runs', '-o', 'json', 'contoso/crashloop'], env);
    expect(json.stdout.trim().split('\n').map((line) => (JSON.parse(line) as { restart: number }).restart)).toEqual([3, 2, 1, 0]);

    const status = await streamctl(['status', 'contoso/crashloop'], env);
    expect(status.stdout).toMatch(/\nLast runs:\n {2}STARTED +ENDED +RESULT/);
    expect(status.stdout).toMatch(/^ {2}.* signal +code=killed, signal=KILL +2 run 3 works$/m);
  });
});

describe("an action's answer: the lines of the run it began, by its invocation id", () => {
  // Each worker here exits 3 at once, which ends its window there; a long window only keeps a slow
  // exit on a loaded machine (the worker still starting after 1 s) inside it, as the spec assumes.
  const window = { seconds: 30, nanos: 0 };

  it('a failed Restart quotes none of the stopped worker\'s lines, only its own run\'s (here: none)', async () => {
    await h.sandbox.withManager((m) => m.StartUnit(RESTARTER, 'replace'));
    await waitFor(async () => (await h.unitState(RESTARTER)).ActiveState === 'active', 10_000, 'the first run');
    const answer = await rpc(h.client, h.client.restart, { team: 'contoso', name: 'restarter', settle: window });
    expect(answer.message).toMatch(/exit|status 3/);
    expect(answer.message).not.toMatch(/shutting down cleanly|first run up/);
    expect(answer.message).not.toMatch(/last log/);
    const worker = answer.logs.filter((line) => line.source === LogSource.LOG_SOURCE_WORKER).map((line) => line.message);
    expect(worker).toEqual([]);
    // systemd's lines of the new run are there: how it ended.
    expect(answer.logs.some((line) => line.source === LogSource.LOG_SOURCE_SYSTEMD && /status=3/.test(line.message))).toBe(true);
    expect(answer.logs.some((line) => /Stopped|Stopping/.test(line.message))).toBe(false);
  });

  it("a Start that waited for a slow Stop quotes none of the stopping worker's lines", async () => {
    await h.sandbox.withManager((m) => m.StartUnit(SLOWSTOP, 'replace'));
    await waitFor(async () => (await h.unitState(SLOWSTOP)).ActiveState === 'active', 10_000, 'the first run');
    const stop = rpc(h.client, h.client.stop, { team: 'contoso', name: 'slowstop' });
    await waitFor(async () => (await h.unitState(SLOWSTOP)).ActiveState === 'deactivating', 10_000, 'the stop to be under way');
    // Queued behind the Stop: it is sent once the worker has said all it says while stopping.
    const start = await rpc(h.client, h.client.start, { team: 'contoso', name: 'slowstop', settle: window });
    expect((await stop).status).toBeDefined();
    expect(start.message).not.toMatch(/still stopping/);
    expect(start.logs.map((line) => line.message).filter((message) => /still stopping/.test(message))).toEqual([]);
    expect(start.logs.some((line) => line.source === LogSource.LOG_SOURCE_SYSTEMD && /status=3/.test(line.message))).toBe(true);
  });
});
