/**
 * Tasks kept 0 ms after finishing (`NewTask.retention`, BullMQ's `removeOnComplete: true`): the scheduler that
 * finished one deletes it right after its final write and its reports (events, the callback, the finished
 * streams), once this process's pending `waitFor` calls on it have settled. Batched per status (a burst of
 * finishes costs one container call per 500 tasks), and atomic per task through `clean`'s `expiredBy` and `ids`: a
 * task re-added meanwhile under the same id is not deleted unless that run too finished with a lapsed rule of its
 * own. A delete that fails is reported (once per outage, by the caller); the background expiry pass deletes the
 * task later, as it does for tasks a container finished on its own.
 */
import { ownRetention, type FinalStatus, type TaskRecord } from './task.js';

/** The most ids one delete call is handed. */
const BATCH = 500;

export class ZeroRetentionDeleter {
	readonly #delete: (status: FinalStatus, ids: readonly string[]) => Promise<void>;
	readonly #settled: (ids: readonly string[]) => Promise<void>;
	readonly #pending = new Map<FinalStatus, string[]>();
	#flushing: Promise<void> | undefined;

	/**
	 * @param remove deletes the tasks of `status` among `ids` whose own rule has lapsed (never throws)
	 * @param settled resolves once this process's pending `waitFor` calls on `ids` have settled
	 */
	constructor(
		remove: (status: FinalStatus, ids: readonly string[]) => Promise<void>,
		settled: (ids: readonly string[]) => Promise<void>,
	) {
		this.#delete = remove;
		this.#settled = settled;
	}

	/** A task this scheduler finished (and reported): deleted soon when its own rule keeps it 0 ms. */
	finished(task: Pick<TaskRecord, 'id' | 'status' | 'retention'>): void {
		if (task.retention === null || ownRetention(task, task.status) !== 0) return;
		const status = task.status as FinalStatus;
		let ids = this.#pending.get(status);
		if (ids === undefined) this.#pending.set(status, (ids = []));
		ids.push(task.id);
		this.#flushing ??= this.#flush();
	}

	async #flush(): Promise<void> {
		// Finishes stored together (a transition batch) are deleted together.
		await new Promise((resolve) => setImmediate(resolve));
		while (this.#pending.size > 0) {
			const batches = [...this.#pending];
			this.#pending.clear();
			for (const [status, ids] of batches) {
				for (let i = 0; i < ids.length; i += BATCH) {
					const part = ids.slice(i, i + BATCH);
					await this.#settled(part);
					await this.#delete(status, part);
				}
			}
		}
		this.#flushing = undefined;
	}

	/** Resolves once the deletes asked for so far are done (at close, before the container closes). */
	async drain(): Promise<void> {
		while (this.#flushing !== undefined) await this.#flushing;
	}
}
