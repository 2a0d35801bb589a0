import { type ServiceError, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActiveState } from '../../gen/lit/stream/v1/stream.js';
import { BusConnection } from '../../src/systemd/busConnection.js';
import { SystemdManager } from '../../src/systemd/manager.js';
import { allowBusRestarts, currentSession, killBusDaemon, systemdSays } from './faults.js';
import { FIXTURE_UNITS, type Harness, rpc, startHarness, waitFor } from './harness.js';

/**
 * A declared stream's status is never NOT_FOUND: whatever systemd is doing to its unit (starting,
 * stopping, unloading it, reloading, or out of reach for a moment — UNAVAILABLE then), the stream
 * is declared and GetStatus says so. A 10-minute soak once answered one GetStatus NOT_FOUND.
 */
const CHURNED = ['c0', 'c1', 'c2'];
const STEADY = ['s0', 's1', 's2'];
const NEVER_LOADED = ['n0', 'n1'];
const READ = [...CHURNED, ...STEADY, ...NEVER_LOADED];
/** Between daemon-reloads: often, and still leaving systemd time to start and stop units. */
const RELOAD_GAP_MS = 100;

let h: Harness;
beforeAll(async () => {
  const units: Record<string, string | { link: string }> = {
    ...FIXTURE_UNITS,
    // A stream whose work is done once started: active (exited), no process in its cgroup, so its
    // tasks and memory are asked of systemd (GetUnitProcesses) — accounting off, from /proc.
    'lit-stream-contoso@oneshot.service': '[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/true\nTasksAccounting=no\nMemoryAccounting=no\n',
  };
  for (const name of READ) units[unitOf(name)] = { link: 'lit-stream-contoso@.service' };
  h = await startHarness(units);
  await allowBusRestarts(h.sandbox);
});
afterAll(async () => {
  await h?.stop();
});

function unitOf(name: string): string {
  return `lit-stream-contoso@${name}.service`;
}

/** Whether systemd has the unit loaded, asked without loading it. */
async function loaded(name: string): Promise<boolean> {
  return (await h.sandbox.withManager((m) => m.ListUnitsByPatterns([], [unitOf(name)]))).length > 0;
}

/**
 * Holds the server's next GetUnitProcesses before it is sent, until release(): a delay of our own
 * call; systemd and the bus are real, and answer it as they do when it is sent.
 */
function holdGetUnitProcesses() {
  const manager = SystemdManager.prototype;
  const original = manager.GetUnitProcesses;
  const server = currentSession(h)!.connection;
  let held = false;
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  manager.GetUnitProcesses = async function (this: SystemdManager, unit: string) {
    if (!held && this.connection === server) {
      held = true;
      await gate;
    }
    return original.call(this, unit);
  };
  return {
    reached: () => waitFor(() => held, 10_000, 'the server to ask GetUnitProcesses'),
    release: () => {
      manager.GetUnitProcesses = original;
      open();
    },
  };
}

/**
 * Waits until no churned unit is changing state: the bus daemon is not killed while one does
 * (see killBusDaemon).
 */
async function settled(): Promise<void> {
  const still = new Set(['active', 'inactive', 'failed']);
  await waitFor(async () => [...(await systemdSays(h.sandbox, 'contoso', CHURNED)).values()].every((unit) => still.has(unit.activeState)), 10_000, 'the churned units to settle');
}

describe('GetStatus of a declared stream', () => {
  it('answers its status when systemd stops and unloads the unit while the server samples its processes (not NOT_FOUND)', async () => {
    await rpc(h.client, h.client.start, { team: 'contoso', name: 'oneshot' });
    const hold = holdGetUnitProcesses();
    try {
      const reading = rpc(h.client, h.client.getStatus, { team: 'contoso', name: 'oneshot' });
      await hold.reached();
      // Stopped behind the server's back: systemd unloads the unit once it has no job and no process.
      await h.sandbox.withManager((m) => m.StopUnit(unitOf('oneshot'), 'replace'));
      await waitFor(async () => !(await loaded('oneshot')), 10_000, 'systemd to unload the stopped unit');
      hold.release();
      const { status: s } = await reading;
      // The state the server had when it read it (active), or the newer one (inactive): both systemd's.
      expect(s).toMatchObject({ name: 'oneshot', unit: unitOf('oneshot') });
      expect([ActiveState.ACTIVE_STATE_ACTIVE, ActiveState.ACTIVE_STATE_INACTIVE]).toContain(s!.activeState);
    } finally {
      hold.release();
    }
  });

  it('never answers NOT_FOUND through stops, starts, daemon-reloads every 100 ms and a bus restart', async () => {
    for (const name of STEADY) await rpc(h.client, h.client.start, { team: 'contoso', name });
    const notFound: string[] = [];
    const codes: Record<string, number> = {};
    let reloads = 0;
    let actions = 0;
    let reading = true;
    const pause = () => new Promise((resolve) => setImmediate(resolve));
    /** For `ms`: units started and stopped behind the server as fast as systemd takes them, and a daemon-reload every RELOAD_GAP_MS. */
    const storm = async (ms: number) => {
      const connection = await BusConnection.open(h.sandbox.busAddress);
      const manager = new SystemdManager(connection);
      let going = true;
      const churn = async () => {
        while (going) {
          const unit = unitOf(CHURNED[actions % CHURNED.length]!);
          await (actions % 2 === 0 ? manager.StartUnit(unit, 'replace') : manager.StopUnit(unit, 'replace')).catch(() => undefined);
          actions++;
          await pause();
        }
      };
      const reload = async () => {
        while (going) {
          await manager.Reload().then(() => reloads++, () => undefined);
          await new Promise((resolve) => setTimeout(resolve, RELOAD_GAP_MS));
        }
      };
      try {
        const stop = setTimeout(() => (going = false), ms);
        await Promise.all([churn(), reload()]).finally(() => clearTimeout(stop));
      } finally {
        going = false;
        connection.close();
      }
    };
    // Readers: mostly the streams being started and stopped.
    const readers = Array.from({ length: 6 }, async (_, reader) => {
      for (let i = 0; reading; i++) {
        const name = i % 3 === 2 ? READ[(i + reader) % READ.length]! : CHURNED[(i + reader) % CHURNED.length]!;
        try {
          if (i % 10 === 9) await rpc(h.client, h.client.listStreams, { team: 'contoso', pageSize: 0, pageToken: '' });
          else await rpc(h.client, h.client.getStatus, { team: 'contoso', name });
          codes.OK = (codes.OK ?? 0) + 1;
        } catch (error) {
          const { code, details } = error as ServiceError;
          codes[status[code]] = (codes[status[code]] ?? 0) + 1;
          if (code === status.NOT_FOUND) notFound.push(`${name}: ${details}`);
        }
      }
    });
    try {
      await storm(3_000);
      await settled();
      await killBusDaemon(h.sandbox);
      await storm(2_000);
    } finally {
      reading = false;
      await Promise.all(readers);
    }
    const seen = JSON.stringify({ codes, actions, reloads });
    expect([...new Set(notFound)], seen).toEqual([]);
    // It did what it says (loosely: the machine may be busy): units changed, systemd reloaded, reads
    // were answered throughout (UNAVAILABLE only while the bus was down).
    expect(actions, seen).toBeGreaterThan(30);
    expect(reloads, seen).toBeGreaterThan(5);
    expect(codes.OK, seen).toBeGreaterThan(100);
  }, 45_000);
});
