import { execFile } from 'node:child_process';
import { BusConnection } from '../src/systemd/busConnection.js';
import { unitObjectPath } from '../src/systemd/unitObjectPath.js';
import { unitOf } from './fixture.js';
import { type LatencyStats, sequential, warmUp } from './measure.js';
import { type LoopOptions, type SeqAndLoad, seqAndLoad } from './rpcs.js';

type Variants = Record<string, { value: unknown }>;

/**
 * What a client without lit-streamd would do for a full status over D-Bus: the unit's properties on
 * the Unit and the Service interface, two Properties.GetAll calls sent together on one connection
 * (its own, with no signal subscriptions), rotating over the running streams.
 */
export async function measureDirectDbus(busAddress: string, running: readonly string[], options: LoopOptions): Promise<SeqAndLoad> {
  const connection = await BusConnection.open(busAddress);
  try {
    const getAll = (unit: string, iface: string) =>
      connection.call({
        destination: 'org.freedesktop.systemd1',
        path: unitObjectPath(unit),
        interface: 'org.freedesktop.DBus.Properties',
        member: 'GetAll',
        signature: 's',
        body: [iface],
        timeoutMs: 30_000,
      });
    const operation = async (index: number) => {
      const unit = unitOf(running[index % running.length] as string);
      const [[unitProps], [serviceProps]] = (await Promise.all([
        getAll(unit, 'org.freedesktop.systemd1.Unit'),
        getAll(unit, 'org.freedesktop.systemd1.Service'),
      ])) as [[Variants], [Variants]];
      if (unitProps.ActiveState?.value !== 'active' || typeof serviceProps.MainPID?.value !== 'number') {
        throw new Error(`${unit}: ActiveState ${String(unitProps.ActiveState?.value)}, MainPID ${String(serviceProps.MainPID?.value)}`);
      }
    };
    const [measured] = await seqAndLoad([operation], options);
    return measured!;
  } finally {
    connection.close();
  }
}

export interface SystemctlOptions {
  readonly runs: number;
  readonly maxMs: number;
  readonly runtimeDir: string;
  readonly busAddress: string;
}

/** `systemctl --user show <unit>` as a subprocess against the sandbox's manager, one at a time. */
export async function measureSystemctl(running: readonly string[], options: SystemctlOptions): Promise<LatencyStats> {
  const env = { ...process.env, XDG_RUNTIME_DIR: options.runtimeDir, DBUS_SESSION_BUS_ADDRESS: options.busAddress, SYSTEMD_PAGER: '' };
  const show = (index: number) =>
    new Promise<void>((resolve, reject) => {
      const unit = unitOf(running[index % running.length] as string);
      execFile('systemctl', ['--user', 'show', unit], { env, timeout: 10_000, maxBuffer: 4 << 20 }, (error, stdout, stderr) => {
        if (error) reject(new Error(`systemctl --user show ${unit}: ${error.message} ${stderr}`));
        else if (!stdout.includes('\nActiveState=active\n')) reject(new Error(`systemctl --user show ${unit}: not active`));
        else resolve();
      });
    });
  await warmUp(show, 3, 1);
  return sequential(show, { maxCount: options.runs, maxMs: options.maxMs, minCount: 10 });
}
