/** How an attempt's outcome, and what storing it led to, end its span (see tracing.ts). */
import type { AttemptOutcome } from './attempt.js';
import type { StoredOutcome } from './task-writer.js';
import type { AttemptSpanOutcome, AttemptSpans } from './tracing.js';

/** The outcome an attempt's span reports, from the attempt's own ending. */
export function attemptSpanOutcome(outcome: AttemptOutcome): AttemptSpanOutcome {
	switch (outcome.kind) {
		case 'succeeded':
			return 'succeeded';
		case 'failed':
			return (outcome.error as { code?: unknown }).code === 'ERR_TASK_TIMEOUT' ? 'timeout' : 'failed';
		case 'stopped':
			return 'stopped';
		case 'handback':
			return 'handed-back';
		default:
			return 'lease-lost';
	}
}

/** The error a span of an attempt whose report was rejected (the task taken over) ends with. */
const LEASE_LOST = { code: 'ERR_LEASE_EXPIRED', message: 'the task was taken over: its lease lapsed' };

/** End the span of `attempt` once its outcome is stored: the status it was stored in, ERROR for a failure. */
export function storedSpanEnd(
	spans: AttemptSpans,
	attempt: object,
	outcome: AttemptOutcome,
	stored: StoredOutcome,
): void {
	switch (stored.kind) {
		case 'succeeded':
		case 'stopped':
			spans.end(attempt, attemptSpanOutcome(outcome), stored.kind);
			return;
		case 'retrying':
		case 'failed':
			// A success whose output could not be persisted fails the attempt too.
			spans.end(
				attempt,
				outcome.kind === 'succeeded' ? 'failed' : attemptSpanOutcome(outcome),
				stored.kind === 'retrying' ? 'waiting' : 'failed',
				stored.error,
			);
			return;
		case 'lost':
			spans.end(attempt, 'lease-lost', null, LEASE_LOST);
			return;
		default:
			// Handed back (the scheduler closing): waiting again, the attempt not counted.
			spans.end(attempt, attemptSpanOutcome(outcome), outcome.kind === 'handback' ? 'waiting' : null);
	}
}
