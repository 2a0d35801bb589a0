import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActionStatus } from '../../gen/lit/stream/v1/stream.js';
import type dbus from 'dbus-next';
import { unitNameOfObjectPath } from '../../src/systemd/unitObjectPath.js';
import { currentSession, monitorBus } from './faults.js';
import { FIXTURE_UNITS, type Harness, rpc, rpcError, startHarness } from './harness.js';

const EXTRA_UNITS = {
  // systemd loads it with LoadState bad-setting: a service needs an ExecStart=.
  'lit-stream-contoso@unfinished.service': '[Service]\nType=simple\n',
  'lit-stream-contoso@manualonly.service': '[Unit]\nRefuseManualStart=yes\n[Service]\nExecStart=/bin/sleep infinity\n',
};

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ ...FIXTURE_UNITS, ...EXTRA_UNITS });
});
afterAll(async () => {
  await h?.stop();
});

type StreamMethod = 'start' | 'stop' | 'restart' | 'getStatus';
const STREAM_METHODS: StreamMethod[] = ['start', 'stop', 'restart', 'getStatus'];

function call(method: StreamMethod, team: string, name: string) {
  return rpcError(h.client, h.client[method] as typeof h.client.start, { team, name });
}

/** Units systemd has loaded for a team, straight from systemd. */
async function loadedUnits(pattern: string) {
  return h.sandbox.withManager((manager) => manager.ListUnitsByPatterns([], [pattern]));
}

/**
 * Every unit name and glob in the calls a monitor saw on the bus: object paths of units, and the
 * arguments of systemd's methods that name units (a unit name, or a list of globs).
 */
function unitsNamedIn(messages: readonly dbus.Message[]): Set<string> {
  const named = new Set<string>();
  const collect = (value: unknown): void => {
    if (typeof value === 'string' && value.endsWith('.service')) named.add(value);
    else if (Array.isArray(value)) value.forEach(collect);
  };
  for (const message of messages) {
    const unit = unitNameOfObjectPath(message.path ?? '');
    if (unit !== undefined) named.add(unit);
    if (message.interface === 'org.freedesktop.systemd1.Manager') collect(message.body);
  }
  return named;
}

describe('bad input gets INVALID_ARGUMENT, and systemd is never asked', () => {
  // Every call the server makes on the bus while these specs run; the last one checks them.
  let monitor: Awaited<ReturnType<typeof monitorBus>>;
  beforeAll(async () => {
    monitor = await monitorBus(h.sandbox, [`type='method_call',sender='${currentSession(h)!.connection.uniqueName}'`]);
  });
  afterAll(() => monitor?.stop());

  const badTeams = ['', 'Contoso', '-contoso', 'contoso-', 'con toso', 'contoso@x', '*', 'a'.repeat(33), 'con/toso', 'cöntoso'];
  const badNames = ['', 'bit.coin', 'bit@coin', '*', 'bit?', '[a]', '%i', 'x.service', '../etc', 'a\\b', 'a b', 'a\nb', 'a\u0000b', 'b'.repeat(65), 'x'.repeat(1_000_000)];

  it.each(STREAM_METHODS)('%s rejects every malformed team with a message that says why', async (method) => {
    for (const team of badTeams) {
      const error = await call(method, team, 'bitcoin');
      expect(error.code, `team ${JSON.stringify(team)}`).toBe(status.INVALID_ARGUMENT);
      expect(error.details).toContain('team');
      expect(error.details.length).toBeLessThan(300);
    }
  });

  it.each(STREAM_METHODS)('%s rejects every malformed stream name', async (method) => {
    for (const name of badNames) {
      const error = await call(method, 'contoso', name);
      expect(error.code, `name ${JSON.stringify(name.slice(0, 20))}`).toBe(status.INVALID_ARGUMENT);
      expect(error.details).toContain('stream name');
      expect(error.details.length).toBeLessThan(300);
    }
  });

  it('ListStreams rejects a malformed team, a negative page size and a foreign page token', async () => {
    expect((await rpcError(h.client, h.client.listStreams, { team: 'Contoso', pageSize: 0, pageToken: '' })).code).toBe(
      status.INVALID_ARGUMENT,
    );
    expect((await rpcError(h.client, h.client.listStreams, { team: 'contoso', pageSize: -1, pageToken: '' })).code).toBe(
      status.INVALID_ARGUMENT,
    );
    expect(
      (await rpcError(h.client, h.client.listStreams, { team: 'contoso', pageSize: 0, pageToken: 'not-a-token' })).code,
    ).toBe(status.INVALID_ARGUMENT);
  });

  it('asked systemd about no unit of that input, and had it load none', async () => {
    await monitor.caughtUp();
    // Only the fixtures' units, and the glob the view lists every stream unit with: none of the
    // teams and names above (`lit-stream--contoso@bitcoin.service` is not contoso's).
    const fixtures = new Set([...Object.keys(FIXTURE_UNITS), ...Object.keys(EXTRA_UNITS), 'lit-stream-*@*.service']);
    expect([...unitsNamedIn(monitor.messages)].filter((name) => !fixtures.has(name))).toEqual([]);
    const loaded = (await loadedUnits('lit-stream-*')).map((unit) => unit.name);
    expect(loaded.filter((name) => !fixtures.has(name))).toEqual([]);
  });
});

describe('only declared streams can be touched', () => {
  it.each(STREAM_METHODS)('%s of a stream with no unit file at all is NOT_FOUND', async (method) => {
    const error = await call(method, 'contoso', 'nosuchstream');
    expect(error.code).toBe(status.NOT_FOUND);
    expect(error.details).toContain("stream 'nosuchstream' of team 'contoso' is not declared");
  });

  it('an instance of the team template without a file of its own is NOT_FOUND and never started', async () => {
    // systemd itself would happily start lit-stream-contoso@ghost.service from the template.
    for (const method of STREAM_METHODS) {
      expect((await call(method, 'contoso', 'ghost')).code).toBe(status.NOT_FOUND);
    }
    const ghost = (await loadedUnits('lit-stream-contoso@ghost.service'))[0];
    expect(ghost === undefined || ghost.activeState === 'inactive').toBe(true);
  });

  it('a symlink to another team\'s template is not a stream', async () => {
    const error = await call('start', 'contoso', 'alias');
    expect(error.code).toBe(status.NOT_FOUND);
    expect(error.details).toContain('not to the team\'s template');
    expect((await h.unitState('lit-stream-contoso@alias.service')).ActiveState).toBe('inactive');
  });

  it("a team can't reach another team's stream", async () => {
    expect((await call('start', 'contoso', 'secret')).code).toBe(status.NOT_FOUND);
    expect((await call('getStatus', 'contoso', 'secret')).code).toBe(status.NOT_FOUND);
  });

  it('the bare template is not a stream', async () => {
    // `@` can't be in a name, so the closest a caller gets is an empty name.
    expect((await call('start', 'contoso', '')).code).toBe(status.INVALID_ARGUMENT);
  });
});

/** Start and Restart of the stream both answer FAILED_PRECONDITION with `says` in the details. */
async function expectStartRefused(name: string, says: string): Promise<void> {
  for (const method of ['start', 'restart'] as const) {
    const error = await call(method, 'contoso', name);
    expect(error.code, method).toBe(status.FAILED_PRECONDITION);
    expect(error.details).toContain(says);
  }
}

describe('a masked stream', () => {
  it('cannot be started or restarted: FAILED_PRECONDITION that says it is masked', async () => {
    await expectStartRefused('masked', 'masked');
  });

  it('can still be stopped and shown', async () => {
    const stopped = await rpc(h.client, h.client.stop, { team: 'contoso', name: 'masked' });
    expect(stopped.status).toBe(ActionStatus.ACTION_STATUS_SUCCESS);
    const { status: s } = await rpc(h.client, h.client.getStatus, { team: 'contoso', name: 'masked' });
    expect(s?.unit).toBe('lit-stream-contoso@masked.service');
  });
});

describe('units systemd will not start as they stand: FAILED_PRECONDITION with systemd\'s reason', () => {
  it('a unit file with a bad setting', async () => {
    await expectStartRefused('unfinished', 'bad unit file setting');
  });

  it('a unit that refuses to be started by hand (RefuseManualStart=)', async () => {
    await expectStartRefused('manualonly', 'OnlyByDependency');
  });
});

describe('after all that', () => {
  it('the server still serves', async () => {
    const response = await rpc(h.client, h.client.listStreams, { team: 'contoso', pageSize: 0, pageToken: '' });
    expect(response.streams.map((s) => s.name)).toContain('bitcoin');
  });
});
