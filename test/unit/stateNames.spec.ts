import { describe, expect, it } from 'vitest';
import { ActiveState, LoadState, UsageSource } from '../../gen/lit/stream/v1/stream.js';
import {
  activeStateToProto,
  activeStateWord,
  loadStateToProto,
  loadStateWord,
  usageSourceToProto,
  usageSourceWord,
} from '../../src/core/stateNames.js';

describe("systemd's state words and the API's enums", () => {
  describe('load states', () => {
    it.each<[string, LoadState]>([
      ['loaded', LoadState.LOAD_STATE_LOADED],
      ['not-found', LoadState.LOAD_STATE_NOT_FOUND],
      ['bad-setting', LoadState.LOAD_STATE_BAD_SETTING],
      ['error', LoadState.LOAD_STATE_ERROR],
      ['masked', LoadState.LOAD_STATE_MASKED],
    ])("maps '%s' to enum %s and back", (word, state) => {
      expect(loadStateToProto(word)).toBe(state);
      expect(loadStateWord(state)).toBe(word);
    });

    it.each([['weird'], [''], ['bad_setting'], ['stub'], ['unrecognized'], ['0']])(
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
    it.each<[string, ActiveState]>([
      ['active', ActiveState.ACTIVE_STATE_ACTIVE],
      ['reloading', ActiveState.ACTIVE_STATE_RELOADING],
      ['inactive', ActiveState.ACTIVE_STATE_INACTIVE],
      ['failed', ActiveState.ACTIVE_STATE_FAILED],
      ['activating', ActiveState.ACTIVE_STATE_ACTIVATING],
      ['deactivating', ActiveState.ACTIVE_STATE_DEACTIVATING],
      ['maintenance', ActiveState.ACTIVE_STATE_MAINTENANCE],
    ])("maps '%s' to enum %s and back", (word, state) => {
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
    it.each<['systemd' | 'procfs' | 'none', UsageSource]>([
      ['systemd', UsageSource.USAGE_SOURCE_SYSTEMD],
      ['procfs', UsageSource.USAGE_SOURCE_PROCFS],
      ['none', UsageSource.USAGE_SOURCE_UNSPECIFIED],
    ])("maps '%s' to enum %s and back", (word, source) => {
      expect(usageSourceToProto(word)).toBe(source);
      expect(usageSourceWord(source)).toBe(word);
    });

    it("maps an unrecognized usage source to 'none'", () => {
      expect(usageSourceWord(UsageSource.UNRECOGNIZED)).toBe('none');
    });
  });
});
