/**
 * `work` over `items` with at most `limit` in flight, started in the items' order; resolves with the
 * results in the items' order. A rejection starts no further item and rejects with the first
 * reason once those in flight have settled (so none is left running unseen); a caller for whom one
 * item's failure is not the whole one's catches inside `work`. lit-streamctl keeps the same rule
 * on its side of the package boundary (mapLimited); test/unit/mapLimit.spec.ts holds both to it.
 */
export async function mapLimit<T, R>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  if (!(Number.isInteger(limit) && limit >= 1)) throw new RangeError(`mapLimit: limit must be a whole number of at least 1, not ${limit}`);
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  let failure: unknown;
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const index = next++;
      try {
        results[index] = await work(items[index] as T, index);
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
