import {
  ActiveState,
  activeStateFromJSON,
  activeStateToJSON,
  LoadState,
  loadStateFromJSON,
  loadStateToJSON,
  UsageSource,
} from '../../gen/lit/stream/v1/stream.js';
import type { UsageSource as CoreUsageSource } from '../core/status.js';

/**
 * systemd's state words ↔ the API's enums. The enum names are systemd's words upper-cased with
 * `-` as `_` behind a prefix (`bad-setting` ↔ LOAD_STATE_BAD_SETTING), so the mapping is derived,
 * not listed; words the API does not know map to UNSPECIFIED.
 */
export function loadStateToProto(word: string): LoadState {
  return known(loadStateFromJSON(toEnumName('LOAD_STATE_', word)), LoadState.LOAD_STATE_UNSPECIFIED);
}

export function activeStateToProto(word: string): ActiveState {
  return known(activeStateFromJSON(toEnumName('ACTIVE_STATE_', word)), ActiveState.ACTIVE_STATE_UNSPECIFIED);
}

/** `LOAD_STATE_BAD_SETTING` → `bad-setting`; UNSPECIFIED → ``. */
export function loadStateWord(state: LoadState): string {
  return toWord('LOAD_STATE_', loadStateToJSON(state));
}

/** `ACTIVE_STATE_ACTIVE` → `active`; UNSPECIFIED → ``. */
export function activeStateWord(state: ActiveState): string {
  return toWord('ACTIVE_STATE_', activeStateToJSON(state));
}

const USAGE_SOURCES: Record<CoreUsageSource, UsageSource> = {
  none: UsageSource.USAGE_SOURCE_UNSPECIFIED,
  systemd: UsageSource.USAGE_SOURCE_SYSTEMD,
  procfs: UsageSource.USAGE_SOURCE_PROCFS,
};

export function usageSourceToProto(source: CoreUsageSource): UsageSource {
  return USAGE_SOURCES[source];
}

export function usageSourceWord(source: UsageSource): CoreUsageSource {
  return (Object.keys(USAGE_SOURCES) as CoreUsageSource[]).find((word) => USAGE_SOURCES[word] === source) ?? 'none';
}

function toEnumName(prefix: string, word: string): string {
  return prefix + word.toUpperCase().replaceAll('-', '_');
}

function toWord(prefix: string, enumName: string): string {
  if (!enumName.startsWith(prefix) || enumName.endsWith('_UNSPECIFIED')) return '';
  return enumName.slice(prefix.length).toLowerCase().replaceAll('_', '-');
}

function known<E extends number>(value: E, unspecified: E): E {
  return value < 0 ? unspecified : value;
}
