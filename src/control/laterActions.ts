import { EventEmitter } from 'node:events';
import type { Action } from '../core/status.js';

/** Why a settle window ended early because of another action (its `interrupted` signal's reason). */
export interface Superseded {
  /** A later Stop or Restart of the stream, sent to systemd while the window ran. */
  readonly supersededBy: Action;
}

/** One action's place among the actions sent on its unit. */
export interface ActionTurn {
  /** Say so right before the action's request leaves for systemd: later ones count from then. */
  sending(): void;
  /**
   * Aborts with a Superseded when a Stop or Restart of the unit is sent after this action was.
   * The settle window also aborts it, with an Error, when the answer no longer depends on waiting.
   */
  readonly interrupted: AbortController;
  /** The action has its answer: stop following the unit's actions. */
  end(): void;
}

/**
 * Which action on a unit came after which, as they are sent to systemd. A Start's settle window
 * learns from it that a later Stop or Restart (from any caller) took the stream over: whether the
 * worker would have held is moot then. A later Start of a running stream changes nothing in
 * systemd and takes nothing over. Told before a request leaves, a turn is told before any of the
 * signals the request causes.
 */
export class LaterActions {
  /** Per unit (the event name): (action, turn) of each action about to be sent. */
  private readonly sending = new EventEmitter().setMaxListeners(0);

  follow(unit: string, action: Action): ActionTurn {
    const self = Symbol(action);
    const interrupted = new AbortController();
    let sent = false;
    const onSending = (other: Action, turn: symbol) => {
      if (turn === self) sent = true;
      else if (sent && other !== 'start' && !interrupted.signal.aborted) interrupted.abort({ supersededBy: other } satisfies Superseded);
    };
    this.sending.on(unit, onSending);
    return {
      sending: () => this.sending.emit(unit, action, self),
      interrupted,
      end: () => this.sending.off(unit, onSending),
    };
  }

  /** Units some action follows (for tests and diagnostics). */
  get followedUnits(): number {
    return this.sending.eventNames().length;
  }
}
