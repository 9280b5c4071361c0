/**
 * The statistics every bench quotes, in one place: the median of a set of rounds and a quantile of sorted samples.
 */

/** The median of `values` (the mean of the two middle ones for an even count), `NaN` ignored; `NaN` when none is left. */
export function median(values: readonly number[] | undefined): number {
	const sorted = (values ?? []).filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
	if (sorted.length === 0) return Number.NaN;
	const mid = sorted.length >> 1;
	return sorted.length % 2 === 1
		? (sorted[mid] as number)
		: ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** The `q` quantile (0 to 1) of samples sorted ascending, by nearest rank (`NaN` for none): p99 of 100 is the largest. */
export function quantile(sorted: readonly number[], q: number): number {
	return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}
