import { lstat, readlink } from 'node:fs/promises';
import { basename } from 'node:path';
import { StreamMaskedError, StreamNotDeclaredError, StreamUndeclaredError } from '../core/errors.js';
import type { Action } from '../core/status.js';
import type { StreamRef } from '../core/streamRef.js';
import type { UnitNaming } from '../core/unitNaming.js';
import type { UnitFile } from '../systemd/manager.js';
import type { UnitReads } from './systemdPort.js';

export type Declaration =
  /** `symlink`: the file is a symlink (to the team's template), as far as this process can see it. */
  | { readonly declared: true; readonly masked: boolean; readonly path: string; readonly symlink: boolean }
  | { readonly declared: false; readonly why: string };

/**
 * Whether a unit file found by ListUnitFilesByPatterns declares a stream: a regular file, or a
 * symlink to the team's template (by any path, compared by file name). A masked unit (a symlink to
 * /dev/null, UnitFileState `masked` or `masked-runtime`) is declared but cannot be started.
 * Anything else, e.g. a symlink to some other unit, is not a stream.
 */
export async function judgeDeclaration(file: UnitFile, template: string): Promise<Declaration> {
  if (file.state === 'masked' || file.state === 'masked-runtime') {
    return { declared: true, masked: true, path: file.path, symlink: true };
  }
  if (file.state === 'bad') return { declared: false, why: `systemd reports ${file.path} as bad` };
  let stats;
  try {
    stats = await lstat(file.path);
  } catch {
    // Not visible from this process (another mount namespace): systemd found the file, trust it.
    return { declared: true, masked: false, path: file.path, symlink: false };
  }
  if (!stats.isSymbolicLink()) return { declared: true, masked: false, path: file.path, symlink: false };
  const target = await readlink(file.path).catch(() => '');
  if (basename(target) === template) return { declared: true, masked: false, path: file.path, symlink: true };
  return { declared: false, why: `${file.path} is a symlink to ${target || 'nothing'}, not to the team's template ${template}` };
}

/** Where a stream's declaration is proven: the live view first, then systemd's own file list. */
export interface DeclarationSources {
  readonly naming: UnitNaming;
  /** Whether the view shows the stream (NOT_FOUND otherwise), and whether it shows it undeclared. */
  readonly view: { declaration(ref: StreamRef): Promise<{ undeclared: boolean }> };
  readonly systemd: Pick<UnitReads, 'listUnitFilesByPatterns'>;
}

/** What is done to a stream whose declaration is proven: an action, or enabling or disabling it. */
export type Verb = Action | 'enable' | 'disable';

const DONE: Record<Verb, string> = { start: 'started', stop: 'stopped', restart: 'restarted', enable: 'enabled', disable: 'disabled' };

/** The stream's unit name, once its unit file is proven to declare it: see proveDeclared. */
export async function declaredUnit(sources: DeclarationSources, ref: StreamRef, action: Verb): Promise<string> {
  return (await proveDeclared(sources, ref, action)).unit;
}

/**
 * The stream's unit and the file that declares it (none for a Stop of a stream whose file went),
 * once proven: the view answers first, so systemd is never even asked about a stream it does not
 * show; systemd's own file list then confirms it, as the view may trail a file change by a moment.
 * A stream shown without a declaring file (removed while its unit runs) can only be stopped. A
 * masked stream can be stopped and disabled (it cannot be enabled: there is nothing to disable),
 * not started, restarted or enabled.
 */
export async function proveDeclared(
  { naming, view, systemd }: DeclarationSources,
  ref: StreamRef,
  action: Verb,
): Promise<{ unit: string; file?: Extract<Declaration, { declared: true }> }> {
  const unit = naming.unitOf(ref);
  const shown = await view.declaration(ref);
  // The pattern is the exact unit name: validation leaves no glob characters in it.
  const files = await systemd.listUnitFilesByPatterns([unit]);
  const file = files.find((candidate) => basename(candidate.path) === unit);
  const subject = `stream '${ref.name}' of team '${ref.team}'`;
  const declaration = file
    ? await judgeDeclaration(file, naming.templateOf(ref.team))
    : { declared: false as const, why: `there is no unit file ${unit} in systemd's unit search path` };
  if (!declaration.declared) {
    // It was declared until a moment ago (the view still shows it): stopping is always safe.
    if (action === 'stop') return { unit };
    if (!shown.undeclared) throw new StreamNotDeclaredError(`${subject} is not declared: ${declaration.why}`);
    throw new StreamUndeclaredError(`${subject} is no longer declared (${declaration.why}) but still runs: it can be stopped, not ${DONE[action]}`);
  }
  if (declaration.masked && action !== 'stop' && action !== 'disable') {
    throw new StreamMaskedError(`${subject} is masked (${declaration.path}); unmask ${unit} before you ${action} it`);
  }
  return { unit, file: declaration };
}
