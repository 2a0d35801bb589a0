import { execFile } from 'node:child_process';
import { inspect, promisify } from 'node:util';
import { credentials, InterceptingCall, type Interceptor } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  closeSharedClients,
  getStreams,
  listStreams,
  GrpcStatus,
  LitStreamError,
  type LogsOptions,
  Stream,
  StreamServiceClient,
  streamServiceClient,
} from '../../clients/typescript/src/index.js';
import { type Harness, startHarness, waitFor } from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
  process.env.LIT_STREAM_ADDR = h.address; // as a user's environment would point the SDK
});
afterAll(async () => {
  closeSharedClients();
  delete process.env.LIT_STREAM_ADDR;
  await h?.stop();
});

describe('Stream, as in the Python SDK', () => {
  const stream = () => new Stream('contoso', 'bitcoin');

  it('start() → {status: SUCCESS, message: "Stream started successfully."}', async () => {
    expect(await stream().start()).toEqual({ status: 'SUCCESS', message: 'Stream started successfully.' });
  });

  it('status() → name, active, status, started, pid, tasks, memory as systemctl prints them', async () => {
    const s = await stream().status();
    const systemd = await h.unitState('lit-stream-contoso@bitcoin.service');
    expect(Object.keys(s)).toEqual(['name', 'active', 'status', 'started', 'pid', 'tasks', 'memory', 'details']);
    expect(s).toMatchObject({ name: 'bitcoin', active: 'active', status: 'running', pid: systemd.MainPID });
    expect(s.started).toMatch(/^(Mon|Tue|Wed|Thu|Fri|Sat|Sun) \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} \S+$/);
    expect(s.tasks).toBeGreaterThanOrEqual(1);
    expect(s.memory).toMatch(/^\d+(B|\.\d[KMGTPE])$/);
    expect(s.details).toMatchObject({ team: 'contoso', unit: 'lit-stream-contoso@bitcoin.service', usageSource: 'procfs', usagePartial: false });
    expect(s.details.started?.getTime()).toBe(systemd.ActiveEnterTimestamp?.getTime());
  });

  it('restart() and stop() answer like start()', async () => {
    expect(await stream().restart()).toEqual({ status: 'SUCCESS', message: 'Stream restarted successfully.' });
    expect(await stream().stop()).toEqual({ status: 'SUCCESS', message: 'Stream stopped successfully.' });
    const s = await stream().status();
    expect(s).toMatchObject({ active: 'inactive', status: 'dead', started: null, pid: null, tasks: null, memory: null });
  });

  it('reports a failing worker as FAILURE with systemd\'s reason', async () => {
    const result = await new Stream('contoso', 'crash').start();
    expect(result.status).toBe('FAILURE');
    expect(result.message).toContain('exit status 1');
  });

  it("act() answers with all the server said: systemd's job result and the lines of this start, systemd's included", async () => {
    const failed = await new Stream('contoso', 'crash').act('start');
    expect(failed).toMatchObject({ status: 'FAILURE', jobResult: 'failed' });
    expect(failed.logs.filter((line) => line.source === 'systemd').map((line) => line.message).join('\n')).toMatch(/Main process exited|Failed with result 'exit-code'/);
    const stopped = await new Stream('contoso', 'crash').act('stop');
    expect(stopped).toMatchObject({ status: 'SUCCESS', jobResult: 'done', logs: [] });
    // start() keeps the SDK's shape.
    expect(Object.keys(await new Stream('contoso', 'crash').start()).sort()).toEqual(['message', 'status']);
    // A typo from JavaScript is refused, never taken for a restart.
    await expect(new Stream('contoso', 'crash').act('Start' as 'start')).rejects.toThrow(TypeError);
  });

  it('prints as Stream(team=..., name=...)', () => {
    expect(String(stream())).toBe("Stream(team='contoso', name='bitcoin')");
    expect(inspect(stream())).toBe("Stream(team='contoso', name='bitcoin')");
  });

  it('prints the host only when it names one, and asks that host alone', async () => {
    const elsewhere = new Stream('contoso', 'bitcoin', { host: 'feed-2' });
    expect(String(elsewhere)).toBe("Stream(team='contoso', name='bitcoin', host='feed-2')");
    // This lit-streamd is another host: NOT_FOUND, naming both.
    const error = await elsewhere.status().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: GrpcStatus.NOT_FOUND, details: expect.stringContaining("'feed-2'") });
    // Its own host, as the server names it, is answered.
    const { details } = await stream().status({ logLines: 0 });
    expect(details.host).toBeTruthy();
    expect((await new Stream('contoso', 'bitcoin', { host: details.host }).status({ logLines: 0 })).name).toBe('bitcoin');
  });

  it('fails with a typed error carrying the gRPC code', async () => {
    const error = await new Stream('contoso', 'nope').start().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LitStreamError);
    expect(error).toMatchObject({ code: GrpcStatus.NOT_FOUND, codeName: 'NOT_FOUND' });
    expect((error as LitStreamError).message).toContain("stream 'nope' of team 'contoso' is not declared");
    const invalid = await new Stream('Contoso!', 'x').status().catch((e: unknown) => e);
    expect(invalid).toMatchObject({ code: GrpcStatus.INVALID_ARGUMENT });
  });

  it('takes an explicit address or a ready generated client instead of the environment', async () => {
    const viaAddress = new Stream('contoso', 'ethereum', { address: h.address });
    expect((await viaAddress.status()).name).toBe('ethereum');
    const viaClient = new Stream('contoso', 'ethereum', { client: streamServiceClient({ address: h.address }) });
    expect((await viaClient.status()).active).toBe('inactive');
  });
});

describe('watch(), an async iterable that opens its call lazily', () => {
  // Control: a watch that is iterated reaches the server; calls opened before it on the same
  // shared channel would have reached it first, so once its INITIAL arrives they would be counted.
  async function openedWatchers(): Promise<number> {
    const control = new Stream('contoso', 'bitcoin').watch();
    expect((await control.next()).value).toMatchObject({ kind: 'INITIAL' });
    const count = h.server.view.watcherCount;
    await control.return(undefined);
    await waitFor(() => h.server.view.watcherCount === 0, 5_000, 'the control watch to be released');
    return count - 1;
  }

  it('opens no call on the server until the first next()', async () => {
    const neverIterated = [new Stream('contoso', 'bitcoin').watch(), new Stream('contoso', 'ethereum').watch()];
    expect(await openedWatchers()).toBe(0);
    expect(neverIterated).toHaveLength(2);
  });

  it('opens no call when return() comes before the first next()', async () => {
    const returned = new Stream('contoso', 'bitcoin').watch();
    expect(await returned.return(undefined)).toEqual({ done: true, value: undefined });
    expect(await returned.next()).toEqual({ done: true, value: undefined });
    expect(await openedWatchers()).toBe(0);
  });

  it('releases the server\'s watcher when the loop is left', async () => {
    for await (const event of new Stream('contoso', 'bitcoin').watch()) {
      expect(event.kind).toBe('INITIAL');
      expect(h.server.view.watcherCount).toBe(1);
      break;
    }
    await waitFor(() => h.server.view.watcherCount === 0, 5_000, 'the watch to be released');
  });
});

describe('logs(), the stream\'s lines from the journal', () => {
  const stream = () => new Stream('contoso', 'ethereum');

  it("status() adds the newest lines since the stream last started under details, systemd's included", async () => {
    await stream().restart();
    let s = await stream().status();
    await waitFor(async () => (s = await stream().status()).details.logs?.some((line) => /^Started /.test(line.message)) ?? false, 10_000, 'the Started line');
    expect(Object.keys(s)).toEqual(['name', 'active', 'status', 'started', 'pid', 'tasks', 'memory', 'details']);
    const started = s.details.logs!.find((line) => /^Started /.test(line.message))!;
    expect(started).toMatchObject({ kind: 'line', source: 'systemd', priority: 6 });
    expect(started.time).toBeInstanceOf(Date);
    expect(s.details.logsUnavailable).toBeUndefined();
  });

  it('tails: the newest lines, oldest first', async () => {
    const lines = [];
    for await (const line of stream().logs({ tail: 2 })) lines.push(line);
    expect(lines).toHaveLength(2);
    expect(lines.every((line) => line.kind === 'line' && line.cursor.startsWith('s='))).toBe(true);
  });

  it('follows until the loop is left, and resumes after a cursor', async () => {
    const [newest] = await (async () => {
      const lines = [];
      for await (const line of stream().logs({ tail: 1 })) if (line.kind === 'line') lines.push(line);
      return lines;
    })();
    let joined = false;
    const following = (async () => {
      for await (const line of stream().logs({ follow: true, tail: 1 })) {
        joined = true; // the newest line comes once the call follows the stream
        if (line.kind === 'line' && /^Stopped /.test(line.message)) return line.message;
      }
      return undefined;
    })();
    await waitFor(() => joined, 10_000, 'the follower to join');
    expect(h.server.journalFollowers.processes).toBe(1);
    await stream().stop();
    expect(await following).toMatch(/^Stopped lit-stream-contoso@ethereum\.service/);
    await waitFor(() => h.server.journalFollowers.processes === 0, 10_000, 'the follower to end with the loop');
    const after = [];
    for await (const line of stream().logs({ afterCursor: newest!.cursor })) if (line.kind === 'line') after.push(line.message);
    expect(after.some((message) => /^Stopp(ing|ed) /.test(message))).toBe(true);
  });
});

describe("logs()' deadline", () => {
  const stream = () => new Stream('contoso', 'ethereum');

  it('counts from when the call opens, so a logs() iterated long after it was made still has all of its time', async () => {
    const madeAt = Date.now();
    const clock = vi.spyOn(Date, 'now').mockReturnValue(madeAt - 60_000); // as if made a minute ago
    const lines = new Stream('contoso', 'ethereum').logs({ tail: 1 });
    clock.mockRestore();
    const got = [];
    for await (const line of lines) got.push(line);
    expect(got).toHaveLength(1);
  });

  it("is the clients' one default for reads, 10 s, unless the connection or the call says otherwise; a follow has none", async () => {
    /** The time each call had left as it started, as grpc-js was given it; undefined: no deadline. */
    const left: (number | undefined)[] = [];
    const recordDeadline: Interceptor = (options, next) => {
      const deadline = options.deadline === undefined ? Infinity : Number(options.deadline);
      left.push(deadline === Infinity ? undefined : deadline - Date.now());
      return new InterceptingCall(next(options));
    };
    const client = new StreamServiceClient(h.address, credentials.createInsecure(), { interceptors: [recordDeadline] });
    const firstLine = async (deadlineMs: number | undefined, options: LogsOptions) => {
      for await (const line of new Stream('contoso', 'ethereum', { client, deadlineMs }).logs(options)) return line;
      return undefined;
    };
    await stream().restart(); // so that there is a newest line for the follows to start with
    await firstLine(undefined, { tail: 1 });
    await firstLine(5_000, { tail: 1 });
    await firstLine(5_000, { tail: 1, deadlineMs: 2_000 });
    await firstLine(5_000, { tail: 1, follow: true });
    await firstLine(undefined, { tail: 1, follow: true, deadlineMs: 60_000 });
    client.close();
    const about = (ms: number) => expect.toSatisfy((value: number | undefined) => value !== undefined && value > ms - 1_000 && value <= ms);
    // The Python client's READ_TIMEOUT is 10 s too (clients/python/tests/test_stream.py).
    expect(left).toEqual([about(10_000), about(5_000), about(2_000), undefined, about(60_000)]);
  });
});

describe('getStreams, as in the Python SDK', () => {
  it("returns the team's streams, printing as [Stream(team='contoso', name='bitcoin'), ...]", async () => {
    const streams = await getStreams('contoso');
    expect(streams.map(String)).toEqual([
      "Stream(team='contoso', name='bitcoin')",
      "Stream(team='contoso', name='crash')",
      "Stream(team='contoso', name='ethereum')",
      "Stream(team='contoso', name='masked')",
      "Stream(team='contoso', name='slow')",
    ]);
    expect(inspect(streams.slice(0, 1))).toBe("[ Stream(team='contoso', name='bitcoin') ]");
    expect(await streams[0]!.start()).toEqual({ status: 'SUCCESS', message: 'Stream started successfully.' });
    await streams[0]!.stop();
  });

  it('returns an empty list for a team without streams', async () => {
    expect(await getStreams('acme')).toEqual([]);
  });

  it('lists with no hosts to report from a single lit-streamd; one named host keeps its name on each stream', async () => {
    const all = await listStreams('contoso');
    expect(all.hostErrors).toEqual([]);
    expect(all.streams.every((each) => each.host === undefined)).toBe(true);
    const { details } = await new Stream('contoso', 'bitcoin').status({ logLines: 0 });
    const mine = await listStreams('contoso', { host: details.host });
    expect(mine.streams.map(String)[0]).toBe(`Stream(team='contoso', name='bitcoin', host='${details.host}')`);
  });
});

describe('the seed\'s two-liners, run as a user would from the installed package', () => {
  it('work unchanged with LIT_STREAM_ADDR in the environment', async () => {
    const script = `
      import { Stream, getStreams } from '@lit-stream/client';
      const stream = new Stream('contoso', 'ethereum');
      console.log(JSON.stringify(await stream.start()));
      console.log(String(await getStreams('contoso')));
      console.log(JSON.stringify(await stream.stop()));`;
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...process.env, LIT_STREAM_ADDR: h.address },
      timeout: 20_000,
    });
    const [started, listed, stopped] = stdout.trim().split('\n');
    expect(JSON.parse(started!)).toEqual({ status: 'SUCCESS', message: 'Stream started successfully.' });
    expect(listed).toContain("Stream(team='contoso', name='ethereum')");
    expect(JSON.parse(stopped!)).toEqual({ status: 'SUCCESS', message: 'Stream stopped successfully.' });
  });
});
