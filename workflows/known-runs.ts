/**
 * The last record of each run this process wrote (or read), so the advance at a step's end can plan without reading the run
 * first. Only a guess: an advance planned from it applies nothing unless its compare-and-set write succeeds, which
 * proves the stored run was still this record (same `rev` and `createdAt`: every write adds one to its rev, and a
 * run removed and created again under its id, whose revs start again, is told apart by its creation time). A record
 * changed since (by another process, or by a step's checkpoint or shared data) fails the write, and the advance
 * reads the run and plans again.
 */
import type { RunRecord } from '../src/workflow-store.js';

/** How many runs are remembered; the oldest is forgotten first (a run another process finished stays until then). */
const MAX_RUNS = 10_000;

/** Whether a step of the run is running (a loop: no array of the steps made). */
function anyRunning(run: RunRecord): boolean {
	for (const stepId in run.steps) if (run.steps[stepId]?.status === 'running') return true;
	return false;
}

/**
 * Per run, the record this process last wrote or read, while a step of it runs (a step end is coming). The record
 * is kept as it is handed in, not copied: the engine changes no record once written (a plan copies on write, see
 * planAdvance) and hands callers copies.
 */
export class KnownRuns {
	readonly #runs = new Map<string, RunRecord>();

	/** Take the run's remembered record (it is forgotten: the caller writes the next one or reads). */
	take(runId: string): RunRecord | undefined {
		const run = this.#runs.get(runId);
		if (run !== undefined) this.#runs.delete(runId);
		return run;
	}

	/** Remember a record just written or read (no one may change it afterwards), if a step of it still runs; else forget the run. */
	remember(run: RunRecord): void {
		this.#runs.delete(run.id);
		if (!anyRunning(run)) return;
		this.#runs.set(run.id, run);
		if (this.#runs.size > MAX_RUNS) {
			const oldest = this.#runs.keys().next();
			if (oldest.done !== true) this.#runs.delete(oldest.value);
		}
	}

	/** Forget a run (something else wrote it). */
	forget(runId: string): void {
		this.#runs.delete(runId);
	}

	/** Forget every run. */
	clear(): void {
		this.#runs.clear();
	}
}
