import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, rpc, rpcError, startHarness } from './harness.js';

/**
 * Enable and Disable on a host that does not allow lit-streamd to change unit files. Under the
 * system manager it is polkit that refuses (deploy/50-lit-stream.rules: manage-unit-files, NO), and
 * systemd answers the call with org.freedesktop.DBus.Error.AccessDenied; the embedded user manager
 * asks polkit nothing of its own user, so here its bus refuses the same calls with the same error
 * (a mandatory deny in the bus's policy). Everything else is real: the server, systemd, its disk.
 */
const REFUSE_UNIT_FILES = `<policy context="mandatory">
  <deny send_interface="org.freedesktop.systemd1.Manager" send_member="EnableUnitFiles"/>
  <deny send_interface="org.freedesktop.systemd1.Manager" send_member="DisableUnitFiles"/>
</policy>`;

const TEMPLATE = '[Service]\nType=exec\nExecStart=/bin/sleep infinity\n[Install]\nWantedBy=default.target\n';
const UNIT = 'lit-stream-contoso@boot.service';
const boot = { team: 'contoso', name: 'boot' };

let h: Harness;
beforeAll(async () => {
  h = await startHarness(
    { 'lit-stream-contoso@.service': TEMPLATE, [UNIT]: { link: 'lit-stream-contoso@.service', in: 'data' } },
    {},
    { busPolicy: REFUSE_UNIT_FILES },
  );
});
afterAll(async () => {
  await h?.stop();
});

const exists = (path: string) => lstat(path).then(() => true, () => false);
const unitFileState = async () => (await rpc(h.client, h.client.listStreams, { team: 'contoso', pageSize: 0, pageToken: '' })).streams.find((s) => s.name === 'boot')?.unitFileState;

describe("Enable and Disable where the host does not allow lit-streamd to change unit files", () => {
  it("answer PERMISSION_DENIED saying the host's polkit rule does not allow it, what to run instead and where to read more; nothing changes, nothing starts", async () => {
    const refused = await rpcError(h.client, h.client.enable, { ...boot, now: true });
    expect(refused.code).toBe(status.PERMISSION_DENIED);
    expect(refused.details).toMatch(/^this host's polkit rule does not allow lit-streamd to enable unit files, so nothing was changed \(systemd refused EnableUnitFiles: .*org\.freedesktop\.DBus\.Error\.AccessDenied; systemd asks polkit for org\.freedesktop\.systemd1\.manage-unit-files\)\)\. /);
    expect(refused.details).toContain(`Run \`systemctl enable ${UNIT}\` on the host, or grant it with the rule in docs/security.md, "Enable and Disable under the system manager"`);
    expect(await exists(join(h.sandbox.unitDir, 'default.target.wants', UNIT))).toBe(false);
    expect((await h.unitState(UNIT)).ActiveState).toBe('inactive');
    expect(await unitFileState()).toBe('disabled');

    const disable = await rpcError(h.client, h.client.disable, { ...boot, now: true });
    expect(disable.code).toBe(status.PERMISSION_DENIED);
    expect(disable.details).toMatch(/^this host's polkit rule does not allow lit-streamd to disable unit files, so nothing was changed /);
  });

  it('still starts and stops the stream: only unit files are refused', async () => {
    await rpc(h.client, h.client.start, boot);
    expect((await h.unitState(UNIT)).ActiveState).toBe('active');
    await rpc(h.client, h.client.stop, boot);
    expect((await h.unitState(UNIT)).ActiveState).not.toBe('active');
  });
});
