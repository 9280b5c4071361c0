/**
 * The run records the engine writes, sealed as it writes them: neither the record nor anything in it is changed
 * again. The engine changes no record once written (a plan copies on write, see `planAdvance`; a command changes a
 * copy), hands out only copies (`start`'s run, events, waiters, commands, step items), and builds its records of its
 * own objects, copies or what it read (a task's output and error are copied in; no caller's object is put in one).
 * So no one else can change a sealed record either, and a store in this process may keep it (its top level copied,
 * for its `rev`) instead of a deep copy of its own (`MemoryWorkflowStore`): a step's write then copies no step. A
 * record not sealed (a caller's, `workflowActions`' shared data and checkpoints) is copied as before. Not exported
 * from the package.
 */

/** A base class whose constructor returns the object it is given, so a subclass's private field is added to it. */
class Stamped {
	constructor(value: object) {
		// The point: `new Seal(value)` adds its private field to `value`, and makes no object of its own.
		return value;
	}
}

/**
 * The mark: a private field added to the sealed object itself. A `WeakSet` of sealed records cost about 0.9 µs per
 * record on Node 20 (its entries are ephemerons the garbage collector tends on every scavenge), a run write per
 * step; the field costs a shape change. A private field is seen by nothing else: not by `for…in`, `Object.keys`,
 * spread (a copy of a sealed record is not sealed), JSON or `structuredClone`. The engine seals only records it has
 * just made (never frozen ones, to which a later JavaScript may refuse a private field).
 */
class Seal extends Stamped {
	#sealed = true;

	static mark(value: object): void {
		if (!(#sealed in value)) new Seal(value);
	}

	static has(value: object): boolean {
		return #sealed in value;
	}
}

/** Mark `value` as never changed again (by the engine: nothing else holds it). */
export function seal<T extends object>(value: T): T {
	Seal.mark(value);
	return value;
}

/** Whether `value` was sealed. */
export function isSealed(value: unknown): boolean {
	return typeof value === 'object' && value !== null && Seal.has(value);
}
