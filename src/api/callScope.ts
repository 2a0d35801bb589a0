import type { CallScope } from '../core/backend.js';
import type { CallContext } from '../rpc/callPipeline.js';

/** The part of a call a backend sees: deadline, cancellation and who is calling. */
export function scopeOf(context: CallContext): CallScope {
  return { signal: context.signal, deadline: context.deadline, caller: context.caller.identity?.name };
}
