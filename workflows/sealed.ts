/**
 * The parts of run records the engine made and will never change again: the steps a plan copied on write (see
 * `planAdvance`), and a new run's steps, vars and shared data. The engine hands out none of them (what it hands out
 * is a copy: `start`'s run, events, waiters, commands, step items), so no one else can change them either, and their
 * values are themselves such parts or copies the engine made (a task's output and error are copied in). A store in
 * this process may therefore keep a sealed part as it is instead of a copy of its own (`MemoryWorkflowStore`): a
 * write of a chain's step then copies no step at all. Not exported from the package.
 */

const sealed = new WeakSet<object>();

/** Mark `value` as never changed again (by the engine: nothing else holds it). */
export function seal<T extends object>(value: T): T {
	sealed.add(value);
	return value;
}

/** Whether `value` was sealed. */
export function isSealed(value: unknown): boolean {
	return typeof value === 'object' && value !== null && sealed.has(value);
}
