/**
 * Runs every task at once and hands each result to `emit` in the tasks' order, as soon as it and
 * all before it are done: `start a b c` prints a's answer first even when c's job ends first.
 * Resolves with the results in order once all are emitted.
 */
export async function inOrder<T>(tasks: readonly (() => Promise<T>)[], emit: (result: T, index: number) => void): Promise<T[]> {
  const running = tasks.map((task) => task());
  // A later task may fail while an earlier one is awaited; it is awaited (and rethrows) in its turn.
  for (const promise of running) promise.catch(() => undefined);
  const results: T[] = [];
  for (const [index, promise] of running.entries()) {
    const result = await promise;
    emit(result, index);
    results.push(result);
  }
  return results;
}

/**
 * Maps with at most `limit` calls in flight (the server allows 64 unary calls per caller), started
 * in the items' order; resolves with the results in that order. A rejection starts no further call
 * and rejects with the first reason once those in flight have settled. The server's mapLimit
 * (src/core/mapLimit.ts) keeps the same rule on its side of the package boundary;
 * test/unit/mapLimit.spec.ts holds both to it.
 */
export async function mapLimited<T, R>(items: readonly T[], limit: number, map: (item: T, index: number) => Promise<R>): Promise<R[]> {
  if (!(Number.isInteger(limit) && limit >= 1)) throw new RangeError(`mapLimited: limit must be a whole number of at least 1, not ${limit}`);
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  let failure: unknown;
  const worker = async () => {
    while (!failed && next < items.length) {
      const index = next++;
      try {
        results[index] = await map(items[index]!, index);
      } catch (error) {
        if (!failed) failure = error;
        failed = true;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failed) throw failure;
  return results;
}
