/** ms per unit of a duration in the fleet file. */
const UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/**
 * A duration as the fleet file writes it, in ms: a whole number and a unit, `500ms`, `2s`, `1m`,
 * `1h` (Prometheus's notation, as its `scrape_interval`). Undefined when the text is not one.
 */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d{1,9})(ms|s|m|h)$/.exec(text);
  if (!match) return undefined;
  return Number(match[1]) * (UNITS[match[2]!] ?? Number.NaN);
}
