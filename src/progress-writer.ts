/**
 * Progress of a running attempt: stored and reported only when it changes (polled actuators repeat it), with the
 * container writes coalesced to one in flight per attempt, the latest waiting.
 */
import type { Attempt } from './attempt.js';
import type { TaskWriter } from './task-writer.js';

/** Progress unchanged since the last report: no write, no event. */
export function sameProgress(a: unknown, b: unknown): boolean {
	if (Object.is(a, b)) return true;
	if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
	try {
		return JSON.stringify(a) === JSON.stringify(b);
	} catch {
		return false;
	}
}

/** Store `attempt.task.progress`, unless a write is in flight: then the latest is written once it ends. */
export function writeProgress(attempt: Attempt, writer: TaskWriter, report: (error: unknown) => void): void {
	if (attempt.progressWriting) {
		attempt.progressPending = true;
		return;
	}
	attempt.progressWriting = true;
	const write = (): void => {
		writer
			.storeProgress(attempt.task.id, attempt.task.progress)
			.catch((error: unknown) => report(error))
			.finally(() => {
				if (attempt.progressPending && !attempt.settled) {
					attempt.progressPending = false;
					write();
				} else attempt.progressWriting = false;
			});
	};
	write();
}
