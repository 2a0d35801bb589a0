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

/** Maps with at most `limit` calls in flight (the server allows 64 unary calls per caller). */
export async function mapLimited<T, R>(items: readonly T[], limit: number, map: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await map(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
