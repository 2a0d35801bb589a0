import { describe, expect, it } from 'vitest';
import { ActiveState, LoadState, UsageSource } from '../../gen/lit/stream/v1/stream.js';
import {
  activeStateToProto,
  activeStateWord,
  loadStateToProto,
  loadStateWord,
  usageSourceToProto,
  usageSourceWord,
} from '../../src/api/stateNames.js';

describe("systemd's state words and the API's enums", () => {
  describe('load states', () => {
    it.each<[string, string, LoadState]>([
      ['loaded', 'LOAD_STATE_LOADED', LoadState.LOAD_STATE_LOADED],
      ['not-found', 'LOAD_STATE_NOT_FOUND', LoadState.LOAD_STATE_NOT_FOUND],
      ['bad-setting', 'LOAD_STATE_BAD_SETTING', LoadState.LOAD_STATE_BAD_SETTING],
      ['error', 'LOAD_STATE_ERROR', LoadState.LOAD_STATE_ERROR],
      ['masked', 'LOAD_STATE_MASKED', LoadState.LOAD_STATE_MASKED],
    ])("maps '%s' to %s and back", (word, _name, state) => {
      expect(loadStateToProto(word)).toBe(state);
      expect(loadStateWord(state)).toBe(word);
    });

    it.each([['weird'], [''], ['stub'], ['unrecognized'], ['0'], ['loaded!']])(
      "maps the unknown word '%s' to UNSPECIFIED (0), never -1",
      (word) => {
        expect(loadStateToProto(word)).toBe(LoadState.LOAD_STATE_UNSPECIFIED);
        expect(loadStateToProto(word)).toBe(0);
      },
    );

    it("maps UNSPECIFIED and unrecognized values to ''", () => {
      expect(loadStateWord(LoadState.LOAD_STATE_UNSPECIFIED)).toBe('');
      expect(loadStateWord(LoadState.UNRECOGNIZED)).toBe('');
      expect(loadStateWord(99 as LoadState)).toBe('');
    });
  });

  describe('active states', () => {
    it.each<[string, string, ActiveState]>([
      ['active', 'ACTIVE_STATE_ACTIVE', ActiveState.ACTIVE_STATE_ACTIVE],
      ['reloading', 'ACTIVE_STATE_RELOADING', ActiveState.ACTIVE_STATE_RELOADING],
      ['inactive', 'ACTIVE_STATE_INACTIVE', ActiveState.ACTIVE_STATE_INACTIVE],
      ['failed', 'ACTIVE_STATE_FAILED', ActiveState.ACTIVE_STATE_FAILED],
      ['activating', 'ACTIVE_STATE_ACTIVATING', ActiveState.ACTIVE_STATE_ACTIVATING],
      ['deactivating', 'ACTIVE_STATE_DEACTIVATING', ActiveState.ACTIVE_STATE_DEACTIVATING],
      ['maintenance', 'ACTIVE_STATE_MAINTENANCE', ActiveState.ACTIVE_STATE_MAINTENANCE],
    ])("maps '%s' to %s and back", (word, _name, state) => {
      expect(activeStateToProto(word)).toBe(state);
      expect(activeStateWord(state)).toBe(word);
    });

    it.each([['weird'], [''], ['refreshing'], ['unrecognized']])(
      "maps the unknown word '%s' to UNSPECIFIED (0), never -1",
      (word) => {
        expect(activeStateToProto(word)).toBe(ActiveState.ACTIVE_STATE_UNSPECIFIED);
        expect(activeStateToProto(word)).toBe(0);
      },
    );

    it("maps UNSPECIFIED and unrecognized values to ''", () => {
      expect(activeStateWord(ActiveState.ACTIVE_STATE_UNSPECIFIED)).toBe('');
      expect(activeStateWord(ActiveState.UNRECOGNIZED)).toBe('');
      expect(activeStateWord(42 as ActiveState)).toBe('');
    });
  });

  describe('usage sources', () => {
    it.each<['systemd' | 'procfs' | 'none', string, UsageSource]>([
      ['systemd', 'USAGE_SOURCE_SYSTEMD', UsageSource.USAGE_SOURCE_SYSTEMD],
      ['procfs', 'USAGE_SOURCE_PROCFS', UsageSource.USAGE_SOURCE_PROCFS],
      ['none', 'USAGE_SOURCE_UNSPECIFIED', UsageSource.USAGE_SOURCE_UNSPECIFIED],
    ])("maps '%s' to %s and back", (word, _name, source) => {
      expect(usageSourceToProto(word)).toBe(source);
      expect(usageSourceWord(source)).toBe(word);
    });

    it("maps an unrecognized usage source to 'none'", () => {
      expect(usageSourceWord(UsageSource.UNRECOGNIZED)).toBe('none');
    });
  });
});
