/** The waits each signal guards, and its one abort listener that ends them all. */
const waits = new WeakMap<AbortSignal, Set<(reason: unknown) => void>>();

/**
 * Waits for `promise`, or rejects with `signal.reason` as soon as the signal aborts, whichever
 * comes first. A signal gets one abort listener for its whole life, shared by every wait it guards;
 * a wait that ends leaves it, so a long-lived signal (one per open stream) collects nothing however
 * many waits it guards — unlike Promise.race against one "aborted" promise, which keeps a reaction
 * per wait until the signal fires. (Not one listener per wait either: adding and removing
 * EventTarget listeners twice per message was a third of a watch fan-out's cost.)
 */
export function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  let pending = waits.get(signal);
  if (!pending) {
    const guarded = (pending = new Set());
    waits.set(signal, guarded);
    signal.addEventListener(
      'abort',
      () => {
        for (const reject of guarded) reject(signal.reason);
        guarded.clear();
      },
      { once: true },
    );
  }
  const guarded = pending;
  return new Promise<T>((resolve, reject) => {
    guarded.add(reject);
    promise.then(
      (value) => {
        guarded.delete(reject);
        resolve(value);
      },
      (error: unknown) => {
        guarded.delete(reject);
        reject(error);
      },
    );
  });
}
