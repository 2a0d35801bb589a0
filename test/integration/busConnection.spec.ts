import { readdirSync, readlinkSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BusConnection } from '../../src/systemd/busConnection.js';
import { EmbeddedSystemd } from '../../src/dev/embeddedSystemd.js';
import { BusUnavailableError } from '../../src/systemd/errors.js';
import { busDaemonPid } from './faults.js';
import { waitFor } from './harness.js';

/**
 * A connection to the bus that cannot be opened leaves nothing behind: the sandbox's real
 * dbus-daemon, frozen (SIGSTOP), still has the kernel accept connections on its socket but never
 * answers, and never closes them either.
 */
let sandbox: EmbeddedSystemd;
beforeAll(async () => {
  sandbox = await EmbeddedSystemd.boot();
});
afterAll(async () => {
  await sandbox?.shutdown();
});

/** Sockets this process holds open. */
function openSockets(): number {
  let sockets = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).startsWith('socket:')) sockets++;
    } catch {
      // closed while listed (the listing's own descriptor, for one)
    }
  }
  return sockets;
}

describe('opening a connection to a bus that never answers', () => {
  it('fails within its time, and each failed attempt closes its socket', async () => {
    const pid = await busDaemonPid(sandbox);
    const before = openSockets();
    process.kill(pid, 'SIGSTOP');
    try {
      for (let attempt = 0; attempt < 5; attempt++) {
        const t0 = Date.now();
        await expect(BusConnection.open(sandbox.busAddress, 200)).rejects.toThrow(BusUnavailableError);
        expect(Date.now() - t0).toBeLessThan(2_000);
      }
      // A half-closed socket (end() alone) would stay open until the frozen peer closed it.
      await waitFor(() => openSockets() <= before, 2_000, 'the failed attempts to close their sockets');
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    // The bus works again, and a connection opened now is one socket more, closed with it.
    const connection = await BusConnection.open(sandbox.busAddress);
    expect(openSockets()).toBe(before + 1);
    connection.close();
    await waitFor(() => openSockets() <= before, 2_000, 'the closed connection to close its socket');
  });
});
