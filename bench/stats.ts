// Small helpers shared by the benchmarks: medians and number formatting.

/** The median of a non-empty list (the mean of the two middle values for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of an empty list');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const upper = sorted[mid] as number;
  return sorted.length % 2 === 1 ? upper : ((sorted[mid - 1] as number) + upper) / 2;
}

/** The largest value of a non-empty list. */
export function max(values: readonly number[]): number {
  return values.reduce((a, b) => Math.max(a, b), Number.NEGATIVE_INFINITY);
}

/** An integer with thousands separators: 12,345,678. */
export function int(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

/** Milliseconds with one or two decimals: "3.42 ms". */
export function ms(value: number): string {
  return `${value.toFixed(value < 10 ? 2 : 1)} ms`;
}

/** A ratio with two decimals: "0.95x". */
export function ratio(value: number): string {
  return `${value.toFixed(2)}x`;
}

/** "(goal >= 1,000,000: met)" — printed only, never asserted. */
export function goal(description: string, met: boolean): string {
  return `(goal ${description}: ${met ? 'met' : 'NOT met'})`;
}

/** The smallest value of a non-empty list. */
export function min(values: readonly number[]): number {
  return values.reduce((a, b) => Math.min(a, b), Number.POSITIVE_INFINITY);
}

/** "median 1.23 ms (1.01–2.34 ms)": the median of a non-empty list with its range. */
export function spread(values: readonly number[], format: (value: number) => string = ms): string {
  return `median ${format(median(values))} (${format(min(values))}–${format(max(values))})`;
}

/** The median of per-pair ratios with their range: "1.02x (0.95x–1.10x)". */
export function pairRatios(values: readonly number[]): string {
  return `${ratio(median(values))} (${ratio(min(values))}–${ratio(max(values))})`;
}

/** `a[i] / b[i]` for each pair. */
export function perPair(a: readonly number[], b: readonly number[]): number[] {
  if (a.length !== b.length) throw new Error(`${a.length} against ${b.length} values`);
  return a.map((value, i) => value / (b[i] as number));
}
