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
