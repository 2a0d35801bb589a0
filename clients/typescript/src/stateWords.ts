import { type ActiveState, activeStateToJSON, type LoadState, loadStateToJSON, UsageSource } from './gen/lit/stream/v1/stream.js';

/**
 * The API's enums back to systemd's words, as `systemctl status` prints them. The proto names each
 * enum value after systemd's word (`bad-setting` is LOAD_STATE_BAD_SETTING), so the word is derived
 * from the generated name rather than listed; UNSPECIFIED and values this client does not know
 * yet (a newer server) read as ``.
 */
export function loadStateWord(state: LoadState): string {
  return toWord('LOAD_STATE_', loadStateToJSON(state));
}

/** `ACTIVE_STATE_ACTIVE` → `active`; UNSPECIFIED → ``. */
export function activeStateWord(state: ActiveState): string {
  return toWord('ACTIVE_STATE_', activeStateToJSON(state));
}

/** Where tasks and memory came from: systemd's cgroup accounting, /proc, or nowhere. */
export type UsageSourceWord = 'systemd' | 'procfs' | 'none';

export function usageSourceWord(source: UsageSource): UsageSourceWord {
  if (source === UsageSource.USAGE_SOURCE_SYSTEMD) return 'systemd';
  if (source === UsageSource.USAGE_SOURCE_PROCFS) return 'procfs';
  return 'none';
}

function toWord(prefix: string, enumName: string): string {
  if (!enumName.startsWith(prefix) || enumName.endsWith('_UNSPECIFIED')) return '';
  return enumName.slice(prefix.length).toLowerCase().replaceAll('_', '-');
}
