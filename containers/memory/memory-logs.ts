/** The in-memory containers' task logs: the newest lines of each task, and how many older ones were dropped. */
import { logWindow, type TaskLogPage, type TaskLogQuery } from 'lightsched/kit';

interface Log {
	lines: string[];
	dropped: number;
}

export class MemoryLogs {
	readonly #logs = new Map<string, Log>();

	append(id: string, lines: readonly string[], maxLines: number): void {
		let log = this.#logs.get(id);
		if (log === undefined) this.#logs.set(id, (log = { lines: [], dropped: 0 }));
		log.lines.push(...lines);
		const over = log.lines.length - maxLines;
		if (over > 0) {
			log.lines.splice(0, over);
			log.dropped += over;
		}
	}

	page(id: string, query?: TaskLogQuery): TaskLogPage {
		const log = this.#logs.get(id) ?? { lines: [], dropped: 0 };
		const total = log.dropped + log.lines.length;
		const { start, end } = logWindow(total, log.dropped, query);
		return {
			lines: log.lines.slice(start - log.dropped, end - log.dropped),
			offset: start,
			total,
			dropped: log.dropped,
		};
	}

	delete(id: string): void {
		// Most tasks log nothing: no look-up in an empty map on every forgotten task.
		if (this.#logs.size > 0) this.#logs.delete(id);
	}
}
