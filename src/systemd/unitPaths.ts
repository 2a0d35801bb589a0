import { basename } from 'node:path';

/**
 * The persistent configuration directory in a manager's unit search path (its `UnitPath`
 * property, highest priority first): `/etc/systemd/system` for the system manager,
 * `$XDG_CONFIG_HOME/systemd/user` for a user manager. It is where EnableUnitFiles creates symlinks
 * and DisableUnitFiles removes them (runtime = false). systemd.unit(5), "Unit File Load Path",
 * lists the search path in order: the `*.control` directories (persistent, then runtime), the
 * runtime `transient` directory and `generator.early` come first; the next entry is this one.
 * Undefined when the path has no such entry.
 */
export function persistentConfigDirectory(unitPath: readonly string[]): string | undefined {
  return unitPath.find((dir) => {
    const name = basename(dir);
    return !name.endsWith('.control') && name !== 'transient' && !name.startsWith('generator');
  });
}
