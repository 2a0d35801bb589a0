import { readFile } from 'node:fs/promises';

/** One `Key=value` of a unit file's [Install] section. */
export interface InstallSetting {
  readonly key: string;
  readonly value: string;
}

/**
 * The settings of a unit file's [Install] section, in order, as systemctl enable and disable read
 * them from the unit file (systemd.unit(5), "[Install] Section Options"). The syntax is
 * systemd.syntax(7)'s: `[Section]` headers, `Key=value` with blanks around `=` ignored, `#` and `;`
 * start comment lines, and a line ending in a backslash goes on in the next (joined by a space).
 */
export function installSettings(text: string): InstallSetting[] {
  const settings: InstallSetting[] = [];
  let section = '';
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (pending === '' && (line === '' || line.startsWith('#') || line.startsWith(';'))) continue;
    if (pending !== '' && (line.startsWith('#') || line.startsWith(';'))) continue;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    const whole = pending + line;
    pending = '';
    if (whole.startsWith('[') && whole.endsWith(']')) {
      section = whole.slice(1, -1);
      continue;
    }
    const at = whole.indexOf('=');
    if (section !== 'Install' || at < 0) continue;
    settings.push({ key: whole.slice(0, at).trim(), value: whole.slice(at + 1).trim() });
  }
  return settings;
}

/**
 * The [Install] settings of the unit file at `path` (a symlink is followed, as systemd follows it to
 * the file it loads); undefined when this process cannot read it (another mount namespace, no
 * permission): then only systemd knows.
 */
export async function readInstallSettings(path: string): Promise<InstallSetting[] | undefined> {
  try {
    return installSettings(await readFile(path, 'utf8'));
  } catch {
    return undefined;
  }
}
