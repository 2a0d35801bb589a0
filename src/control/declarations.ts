import { lstat, readlink } from 'node:fs/promises';
import { basename } from 'node:path';
import type { UnitFile } from '../systemd/manager.js';

export type Declaration =
  | { readonly declared: true; readonly masked: boolean; readonly path: string }
  | { readonly declared: false; readonly why: string };

/**
 * Whether a unit file found by ListUnitFilesByPatterns declares a stream: a regular file, or a
 * symlink to the team's template (by any path, compared by file name). A masked unit (a symlink to
 * /dev/null, UnitFileState `masked` or `masked-runtime`) is declared but cannot be started.
 * Anything else, e.g. a symlink to some other unit, is not a stream.
 */
export async function judgeDeclaration(file: UnitFile, template: string): Promise<Declaration> {
  if (file.state === 'masked' || file.state === 'masked-runtime') {
    return { declared: true, masked: true, path: file.path };
  }
  if (file.state === 'bad') return { declared: false, why: `systemd reports ${file.path} as bad` };
  let stats;
  try {
    stats = await lstat(file.path);
  } catch {
    // Not visible from this process (another mount namespace): systemd found the file, trust it.
    return { declared: true, masked: false, path: file.path };
  }
  if (!stats.isSymbolicLink()) return { declared: true, masked: false, path: file.path };
  const target = await readlink(file.path).catch(() => '');
  if (basename(target) === template) return { declared: true, masked: false, path: file.path };
  return { declared: false, why: `${file.path} is a symlink to ${target || 'nothing'}, not to the team's template ${template}` };
}
