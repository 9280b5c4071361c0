/**
 * Unknown option names: a misspelt option (`concurency`, `maxAttemps`) is an error, not a silently ignored
 * key. Every constructor that takes an options object calls `rejectUnknownOptions` with the names it knows.
 */

/** The edit distance between two names (Levenshtein), for suggesting the closest known name. */
function distance(a: string, b: string): number {
	const la = a.length;
	const lb = b.length;
	let prev = Array.from({ length: lb + 1 }, (_, j) => j);
	for (let i = 1; i <= la; i++) {
		const cur = [i];
		for (let j = 1; j <= lb; j++) {
			const cost = a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1;
			cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost);
		}
		prev = cur;
	}
	return prev[lb]!;
}

/** The known name closest to `name`, when it is close enough to be a likely misspelling. */
export function closestName(name: string, known: readonly string[]): string | undefined {
	let best: string | undefined;
	let bestDistance = Infinity;
	for (const candidate of known) {
		const d = distance(name, candidate);
		if (d < bestDistance) {
			best = candidate;
			bestDistance = d;
		}
	}
	return best !== undefined && bestDistance <= Math.max(2, Math.floor(best.length / 3)) ? best : undefined;
}

/**
 * Throws a `TypeError` naming the first option of `options` that is not in `known`, and the closest known name:
 * "Unknown option `concurency` of Scheduler: did you mean `concurrency`?". Keys whose value is `undefined` are
 * checked too: a misspelt key is an error whatever its value.
 */
export function rejectUnknownOptions(where: string, options: object, known: readonly string[]): void {
	for (const name of Object.keys(options)) {
		if (known.includes(name)) continue;
		const near = closestName(name, known);
		const hint =
			near === undefined
				? `known options: ${known.map((k) => `\`${k}\``).join(', ')}`
				: `did you mean \`${near}\`?`;
		throw new TypeError(`Unknown option \`${name}\` of ${where}: ${hint}`);
	}
}
