import { dirname } from 'node:path';
import { Failure, StreamNotEnableableError, UnitFilesRefusedError } from '../core/errors.js';
import type { UnitFileChange } from '../core/status.js';
import type { StreamRef } from '../core/streamRef.js';
import type { UnitNaming } from '../core/unitNaming.js';
import type { UnitFileChange as SystemdChange } from '../systemd/manager.js';
import { readInstallSettings } from '../systemd/installSection.js';
import { persistentConfigDirectory } from '../systemd/unitPaths.js';
import type { Declaration } from './declarations.js';
import type { UnitFileWrites, UnitReads } from './systemdPort.js';

/** Which systemd manager the server drives. */
export type ManagerScope = 'system' | 'user';

/**
 * The target a unit is wanted by to start at boot (systemd.special(7)): `multi-user.target` for the
 * system manager, `default.target` for a user manager (which it starts as the user's session begins,
 * or at boot for a user with lingering enabled).
 */
export const BOOT_TARGET: Record<ManagerScope, string> = { system: 'multi-user.target', user: 'default.target' };

export interface UnitFileSources {
  readonly systemd: Pick<UnitReads, 'getManagerProperty' | 'getUnitProperties'> & UnitFileWrites;
  readonly naming: UnitNaming;
  readonly scope: ManagerScope;
}

type DeclaringFile = Extract<Declaration, { declared: true }>;

/** What enabling or disabling changed: systemd's symlinks, and a sentence for people. */
export interface UnitFileOutcome {
  readonly changes: UnitFileChange[];
  readonly message: string;
}

/**
 * `systemctl enable` for a declared, unmasked stream: systemd's EnableUnitFiles on its unit
 * (runtime = false, so it lasts across reboots; force = false, so no one else's symlink is
 * replaced), then a daemon-reload, as systemctl does. Enabling an enabled stream changes nothing
 * and succeeds. A unit without an [Install] section has nothing to be enabled by: systemd answers
 * with no changes and `carries_install_info` false, and so do we, FAILED_PRECONDITION saying
 * what to add.
 */
export async function enableUnitFile(sources: UnitFileSources, ref: StreamRef, unit: string, file: DeclaringFile): Promise<UnitFileOutcome> {
  await refuseAliasInConfigDirectory(sources, ref, unit, file, 'enable');
  await refuseInstallBeyondTheUnit(sources, ref, unit, file, 'enable');
  const { carriesInstallInfo, changes } = await refusedAs('enable', unit, () => sources.systemd.enableUnitFiles([unit], false, false));
  if (!carriesInstallInfo) {
    const where = file.symlink ? `the team's template ${sources.naming.templateOf(ref.team)}` : file.path;
    throw new StreamNotEnableableError(
      `stream '${ref.name}' of team '${ref.team}' cannot be enabled: ${where} has no [Install] section, so systemd has nothing to enable it by. ` +
        `Add one that says what starts it at boot: "[Install]\nWantedBy=${BOOT_TARGET[sources.scope]}"`,
    );
  }
  const made = onDisk(changes);
  await reloadAfter('enable', made, sources);
  return { changes: made, message: made.length > 0 ? 'Stream enabled.' : 'Stream was already enabled.' };
}

/**
 * `systemctl disable` for a declared stream: systemd's DisableUnitFiles on its unit (runtime =
 * false), then a daemon-reload. Disabling a stream that is not enabled (or is masked) changes
 * nothing and succeeds.
 */
export async function disableUnitFile(sources: UnitFileSources, ref: StreamRef, unit: string, file: DeclaringFile): Promise<UnitFileOutcome> {
  await refuseAliasInConfigDirectory(sources, ref, unit, file, 'disable');
  await refuseInstallBeyondTheUnit(sources, ref, unit, file, 'disable');
  const changes = onDisk(await refusedAs('disable', unit, () => sources.systemd.disableUnitFiles([unit], false)));
  await reloadAfter('disable', changes, sources);
  return { changes, message: changes.length > 0 ? 'Stream disabled.' : 'Stream was not enabled.' };
}

/**
 * DisableUnitFiles removes every symlink named like the unit in the persistent configuration
 * directory (systemctl(1), "disable": "including manually created symlinks"): a stream declared by
 * a symlink to its team's template there (`/etc/systemd/system`, `~/.config/systemd/user`) would
 * lose its declaration with the `.wants` link. systemd also calls such a symlink `enabled` before
 * anything wants it (an alias). So neither is done to such a stream: FAILED_PRECONDITION saying
 * how to declare it instead. A masked stream (a symlink to /dev/null) is not declared by an alias.
 */
async function refuseAliasInConfigDirectory(sources: UnitFileSources, ref: StreamRef, unit: string, file: DeclaringFile, verb: 'enable' | 'disable'): Promise<void> {
  if (!file.symlink || file.masked) return;
  const unitPath = await sources.systemd.getManagerProperty('UnitPath');
  const config = persistentConfigDirectory(Array.isArray(unitPath) ? (unitPath as string[]) : []);
  if (config === undefined || dirname(file.path) !== config) return;
  throw new StreamNotEnableableError(
    `stream '${ref.name}' of team '${ref.team}' cannot be ${verb}d: it is declared by a symlink in ${config} (${file.path}), ` +
      `and systemd's DisableUnitFiles removes every symlink named ${unit} there, its declaration too. ` +
      `Declare it by a regular file there, or by the symlink in another directory of the unit search path (e.g. /usr/local/lib/systemd/system for the system manager, ~/.local/share/systemd/user for a user manager)`,
  );
}

/** Where an operator reads what Enable and Disable need from polkit, and what granting it risks. */
const POLKIT_DOCS = 'docs/security.md, "Enable and Disable under the system manager"';

/** Whether systemd refused the server's user (under a system manager: polkit said no). */
function isRefusal(error: unknown): error is Failure {
  return error instanceof Failure && error.code === 'PERMISSION_DENIED';
}

/**
 * `change`, with a refusal told as what it is: the host's polkit rule does not let the server
 * change unit files (deploy/50-lit-stream.rules refuses manage-unit-files, which names no unit:
 * granting it grants every unit file), and what the operator can do instead.
 */
async function refusedAs<T>(verb: 'enable' | 'disable', unit: string, change: () => Promise<T>): Promise<T> {
  try {
    return await change();
  } catch (error) {
    if (!isRefusal(error)) throw error;
    throw new UnitFilesRefusedError(
      `this host's polkit rule does not allow lit-streamd to ${verb} unit files, so nothing was changed (${error.details}). ` +
        `Run \`systemctl ${verb} ${unit}\` on the host, or grant it with the rule in ${POLKIT_DOCS}, after reading what that rule risks`,
      error.code,
    );
  }
}

/**
 * The daemon-reload systemctl does after enabling or disabling. Refused, the caller is told that the
 * change is on disk (it takes effect at the next boot or daemon-reload) and why systemd was not
 * reloaded.
 */
async function reloadAfter(verb: 'enable' | 'disable', made: readonly UnitFileChange[], sources: UnitFileSources): Promise<void> {
  try {
    await sources.systemd.reload();
  } catch (error) {
    if (!isRefusal(error)) throw error;
    const done = made.length > 0 ? `the stream's unit file was ${verb}d (${made.map((change) => `${change.type} ${change.path}`).join(', ')})` : 'nothing had to change';
    throw new UnitFilesRefusedError(
      `${done}, but this host's polkit rule does not allow lit-streamd to reload systemd, as systemctl ${verb} does next (${error.details}); ` +
        `the change takes effect at the next boot or daemon-reload. Run \`systemctl daemon-reload\` on the host, or grant reload-daemon with the rule in ${POLKIT_DOCS}`,
      error.code,
    );
  }
}

/** [Install] settings that name units other than the one enabled: systemctl enables (and disables) those with it. */
const BEYOND_THE_UNIT: ReadonlySet<string> = new Set(['Also', 'Alias']);

/**
 * EnableUnitFiles and DisableUnitFiles act on more than the unit named when its [Install] section
 * says so (systemd.unit(5)): `Also=` enables or disables the units it lists with it, `Alias=`
 * creates or removes symlinks of other names to it in the configuration directory — another team's
 * unit, or any unit at all. systemd 252 reads the section from the unit file and from its drop-ins
 * (the unit's DropInPaths: a drop-in's `Also=` is followed too). The server touches no unit but the
 * stream's own, so a stream whose file, template or drop-ins have either is neither enabled nor
 * disabled: FAILED_PRECONDITION, before anything changes. A file this process cannot read is left
 * to systemd.
 */
async function refuseInstallBeyondTheUnit(sources: UnitFileSources, ref: StreamRef, unit: string, file: DeclaringFile, verb: 'enable' | 'disable'): Promise<void> {
  if (file.masked) return;
  const dropIns = (await sources.systemd.getUnitProperties(unit)).DropInPaths;
  const paths = [file.path, ...(Array.isArray(dropIns) ? (dropIns as unknown[]).filter((path): path is string => typeof path === 'string') : [])];
  const beyond: string[] = [];
  for (const path of paths) {
    for (const { key, value } of (await readInstallSettings(path)) ?? []) {
      if (BEYOND_THE_UNIT.has(key)) beyond.push(`${key}=${value}`);
    }
  }
  if (beyond.length === 0) return;
  const where = file.symlink ? `the team's template ${sources.naming.templateOf(ref.team)}` : file.path;
  throw new StreamNotEnableableError(
    `stream '${ref.name}' of team '${ref.team}' cannot be ${verb}d: its [Install] section names other units (${beyond.join(', ')}), ` +
      `which systemd would ${verb} with it, and lit-streamd touches no unit but the stream's own. Remove Also= and Alias= from ${where} and its drop-ins`,
  );
}

/** The changes that touched the disk; systemd also reports notices (e.g. `masked`) that change nothing. */
function onDisk(changes: readonly SystemdChange[]): UnitFileChange[] {
  const made: UnitFileChange[] = [];
  for (const { type, file, destination } of changes) {
    if (type === 'symlink' || type === 'unlink') made.push({ type, path: file, destination });
  }
  return made;
}
