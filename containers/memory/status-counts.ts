/** The memory containers' per-status task counts. */
import type { TaskCounts, TaskStatus } from 'lightsched/kit';

/**
 * Add `delta` to the count of `status`, by a named write per status: `counts[status]` with a different status
 * at each call goes through V8's megamorphic keyed path, about five times slower, and the hot path counts three
 * moves per task.
 */
export function countStatus(counts: TaskCounts, status: TaskStatus, delta: number): void {
	switch (status) {
		case 'waiting':
			counts.waiting += delta;
			return;
		case 'running':
			counts.running += delta;
			return;
		case 'exporting':
			counts.exporting += delta;
			return;
		case 'succeeded':
			counts.succeeded += delta;
			return;
		case 'failed':
			counts.failed += delta;
			return;
		case 'stopped':
			counts.stopped += delta;
			return;
	}
}
