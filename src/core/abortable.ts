/**
 * Waits for `promise`, or rejects with `signal.reason` as soon as the signal aborts, whichever
 * comes first. The abort listener is removed when the wait ends, so a long-lived signal (one per
 * open stream) collects no listeners however many waits it guards — unlike Promise.race against
 * one "aborted" promise, which keeps a reaction per wait until the signal fires.
 */
export function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
