/**
 * The run records of this instance's `start`s that rejected with `RunOutcomeUnknownError` (the run may be stored),
 * by run id. A `start` of the same id, definition, version, vars and key tries the same record again, so the store
 * knows it as the one it may have stored (SqlWorkflowStore keeps a token per record: its `create` then resolves
 * where it would refuse the id) and the first advance plans from what was stored. Forgotten once a create of it
 * resolves or is refused; at most `MAX_KEPT` kept, the oldest dropped.
 */
import type { RunRecord } from '../src/workflow-store.js';

const MAX_KEPT = 1000;

export class UnsureStarts {
	readonly #runs = new Map<string, RunRecord>();

	/** The record to create for `fresh`: the remembered one of its id when it is the same start, else `fresh`. */
	pick(fresh: RunRecord): RunRecord {
		const earlier = this.#runs.get(fresh.id);
		return earlier !== undefined && sameStart(earlier, fresh) ? earlier : fresh;
	}

	/** `run`'s create rejected with `RunOutcomeUnknownError`. */
	remember(run: RunRecord): void {
		this.#runs.delete(run.id);
		this.#runs.set(run.id, run);
		if (this.#runs.size > MAX_KEPT) this.#runs.delete(this.#runs.keys().next().value as string);
	}

	/** `run`'s create resolved or was refused: its outcome is known. */
	settled(run: RunRecord): void {
		if (this.#runs.get(run.id) === run) this.#runs.delete(run.id);
	}
}

/** Whether two runs are the same start: everything `start` was asked for (not the times it was called at). */
function sameStart(a: RunRecord, b: RunRecord): boolean {
	return (
		a.definition === b.definition &&
		a.version === b.version &&
		a.key === b.key &&
		a.uniqueKey === b.uniqueKey &&
		JSON.stringify(a.vars) === JSON.stringify(b.vars)
	);
}
