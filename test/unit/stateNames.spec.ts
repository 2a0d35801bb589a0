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
import { ACTIVE_STATES, LOAD_STATES } from '../../src/core/stateWords.js';
import type { UsageSource as CoreUsageSource } from '../../src/core/status.js';
import { enumValueNames, pairs, states } from '../support/testdata.js';

/** The words of clients/testdata/states.json, without UNSPECIFIED's ''. */
const words = (table: Readonly<Record<string, string>>) => Object.values(table).filter((word) => word !== '');

describe("systemd's state words and the API's enums (clients/testdata/states.json, the clients' too)", () => {
  describe('load states', () => {
    it('names every value of the proto enum, in its order, and nothing else', () => {
      expect(Object.keys(states.loadStates)).toEqual(enumValueNames(LoadState));
    });

    it("are the server's words, in the API's order", () => {
      expect(LOAD_STATES).toEqual(words(states.loadStates));
    });

    it.each(pairs(states.loadStates).filter(([, word]) => word !== ''))("maps %s to '%s' and back", (name, word) => {
      const state = LoadState[name as keyof typeof LoadState];
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
    it('names every value of the proto enum, in its order, and nothing else', () => {
      expect(Object.keys(states.activeStates)).toEqual(enumValueNames(ActiveState));
    });

    it("are the server's words, in the API's order (the metrics' state label too)", () => {
      expect(ACTIVE_STATES).toEqual(words(states.activeStates));
    });

    it.each(pairs(states.activeStates).filter(([, word]) => word !== ''))("maps %s to '%s' and back", (name, word) => {
      const state = ActiveState[name as keyof typeof ActiveState];
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
    it('names every value of the proto enum, in its order, and nothing else', () => {
      expect(Object.keys(states.usageSources)).toEqual(enumValueNames(UsageSource));
    });

    it.each(pairs(states.usageSources))("maps %s to '%s' and back", (name, word) => {
      const source = UsageSource[name as keyof typeof UsageSource];
      expect(usageSourceToProto(word as CoreUsageSource)).toBe(source);
      expect(usageSourceWord(source)).toBe(word);
    });

    it("maps an unrecognized usage source to 'none'", () => {
      expect(usageSourceWord(UsageSource.UNRECOGNIZED)).toBe('none');
    });
  });
});
