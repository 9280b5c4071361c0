/** One attempt at running a task: its abort controller, timeout timer and the single way it ends. */
import type { TaskRecord } from './task.js';

/** How an attempt ended. Only the first ending counts; later reports are dropped. */
export type AttemptOutcome =
	/** The work succeeded; `hasOutput` says whether the report carried the output. */
	| { readonly kind: 'succeeded'; readonly hasOutput: boolean; readonly output: unknown }
	/** The work failed (a throw, a failed status, a timeout, a start error). */
	| { readonly kind: 'failed'; readonly error: Error; readonly stopWork: boolean }
	/** Someone stopped the task. */
	| { readonly kind: 'stopped' }
	/** The scheduler closes without draining: the work is stopped and the task goes back to waiting. */
	| { readonly kind: 'handback' }
	/** The lease was lost (the task was reclaimed elsewhere): stop the work, change nothing. */
	| { readonly kind: 'lost' };

export class Attempt {
	task: TaskRecord;
	readonly controller = new AbortController();
	timer: ReturnType<typeof setTimeout> | undefined;
	/** Set once the attempt has an outcome; later reports are ignored. */
	outcome: AttemptOutcome | null = null;
	/** Resolves once the outcome is stored in the container. */
	finishing: Promise<void> | null = null;
	ref: unknown = undefined;
	/** Progress writes are coalesced: one in flight, the latest waiting. */
	progressWriting = false;
	progressPending = false;

	constructor(task: TaskRecord) {
		this.task = task;
	}

	get settled(): boolean {
		return this.outcome !== null;
	}
}
