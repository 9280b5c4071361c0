/** A helper the worker module imports (a second TypeScript file, loaded through the same loader). */
export interface Scaled {
	readonly value: number;
	readonly by: number;
}

export function scale(value: number, by: number): Scaled {
	return { value: value * by, by };
}
