/**
 * `CombinedContainer`: a memory container for speed, a persistent one for durability. Claims and reads come
 * from memory; every write goes to the persistent container first, so what memory says has already been
 * stored. On start it restores the unfinished tasks from the persistent container in bounded pages and
 * recovers the tasks that were running when the process died.
 */
import {
	describeValue,
	InvalidStateError,
	PartialAddError,
	SchedulerClosedError,
	type ClaimGuard,
	type CleanQuery,
	type ContainerSignal,
	type RepeatRecord,
	type TaskLogPage,
	type TaskLogQuery,
	type RenewResult,
	type TaskContainer,
	type TaskCounts,
	type TaskPage,
	type TaskPatch,
	type TaskQuery,
	type TaskRecord,
	type TaskStatus,
	type TaskChangePage,
	type TaskChangeQuery,
} from 'lightsched/kit';
import { advanceBoth, cleanBoth, isPausedMemory, operation, setPausedBoth } from './combined/operations.js';
import { keepStored } from './combined/partial-add.js';
import { restoreUnfinished, type RestoreResult } from './combined/restore.js';

export type { RestoreResult } from './combined/restore.js';

/** What `new CombinedContainer(memory, persistent, options)` takes. */
export interface CombinedContainerOptions {
	/**
	 * How many tasks one restore read asks the persistent container for (`list({ status, offset, limit })`).
	 * @default 1000
	 */
	readonly restorePageSize?: number;
}

const DEFAULT_PAGE_SIZE = 1000;

/**
 * Combines an in-memory container (`QueueContainer`, `OrderedMapContainer`) with a persistent one
 * (`SqlContainer`). One process owns the combination (`shared` is `false`): do not point a second scheduler at
 * the same persistent store, since restore treats every running task it finds as orphaned.
 *
 * - Writes (`add`, `transition`, `requestStop`, `renew`, `reclaimExpired`, `remove`) go to the persistent
 *   container first; if that throws, memory is left untouched and the error propagates, but for an add stored in
 *   part (`PartialAddError`): the tasks it stored go to memory too, so they run. A compare-and-set the
 *   persistent container rejects returns `null` without touching memory.
 * - `claim` takes tasks from memory, then stores the same running state in the persistent container; a task
 *   whose persistent write fails goes back to waiting in memory (and any task of the same claim already
 *   stored is handed back there too), and the error propagates.
 * - `get` reads memory, falling back to the persistent container for tasks that finished before a restart.
 *   `list` and `counts` read the persistent container, the only complete record (memory holds the unfinished
 *   tasks and what changed since the start).
 * - Every method first awaits the restore (`restore()`, started by the first call).
 */
export class CombinedContainer implements TaskContainer {
	readonly shared = false;
	readonly #memory: TaskContainer;
	readonly #persistent: TaskContainer;
	readonly #pageSize: number;
	#restoring: Promise<RestoreResult> | null = null;
	#closed = false;
	#closing: Promise<void> | null = null;

	constructor(memory: TaskContainer, persistent: TaskContainer, options: CombinedContainerOptions = {}) {
		checkContainer('memory', memory);
		checkContainer('persistent', persistent);
		if (memory === persistent)
			throw new TypeError('Expected `memory` and `persistent` to be two different containers');
		// Claims come from memory: limits the persistent part would enforce in its own claim would not hold.
		if ((persistent as { readonly claimLimited?: unknown }).claimLimited === true) {
			throw new TypeError(
				"Expected a `persistent` container without `globalConcurrency`, `rateLimit` or `groupRateLimit`: CombinedContainer claims from memory, where they would not hold (one process owns it: use the Scheduler's `concurrency` and `rateLimit`)",
			);
		}
		if (typeof options !== 'object' || options === null) {
			throw new TypeError(`Expected \`options\` to be an object, got ${describeValue(options)}`);
		}
		const pageSize = options.restorePageSize ?? DEFAULT_PAGE_SIZE;
		if (typeof pageSize !== 'number' || !Number.isInteger(pageSize) || pageSize < 1 || pageSize > 100_000) {
			throw new TypeError(
				`Expected \`restorePageSize\` to be an integer from 1 to 100000, got ${describeValue(pageSize)}`,
			);
		}
		this.#memory = memory;
		this.#persistent = persistent;
		this.#pageSize = pageSize;
	}

	/**
	 * Load the unfinished tasks from the persistent container into memory, once. Called by the first operation;
	 * call it yourself to restore eagerly or to see what was restored. A failed restore is retried by the next call.
	 */
	restore(): Promise<RestoreResult> {
		if (this.#restoring === null) {
			const restoring = restoreUnfinished(this.#memory, this.#persistent, this.#pageSize);
			this.#restoring = restoring;
			restoring.catch(() => {
				if (this.#restoring === restoring) this.#restoring = null;
			});
		}
		return this.#restoring;
	}

	async add(tasks: readonly TaskRecord[]): Promise<void> {
		await this.#ready();
		try {
			await this.#persistent.add(tasks);
		} catch (error) {
			if (error instanceof PartialAddError) await keepStored(this.#memory, this.#persistent, tasks, error);
			throw error;
		}
		await this.#memory.add(tasks);
	}

	async claim(max: number, owner: string, leaseMs: number, now: number): Promise<TaskRecord[]> {
		if (this.#closed) return [];
		await this.#ready();
		const claimed = await this.#memory.claim(max, owner, leaseMs, now);
		if (claimed.length === 0) return claimed;
		const results = await Promise.allSettled(claimed.map((task) => this.#storeClaim(task)));
		const failure = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
		if (failure === undefined)
			return claimed.filter((_, i) => results[i]?.status === 'fulfilled' && results[i].value);
		// All or nothing: hand every task of this claim back, so none is left running without a worker.
		await Promise.allSettled(
			claimed.map(async (task, i) => {
				const result = results[i];
				if (result?.status === 'fulfilled' && !result.value) return;
				const back: TaskPatch = { attempts: task.attempts - 1, owner: null, leaseUntil: null, startedAt: null };
				// If this write fails too, the store keeps a stale `running` claim; the next claim of the task takes it over.
				if (result?.status === 'fulfilled')
					await this.#persistent.transition(task.id, 'running', 'waiting', back, owner).catch(() => null);
				await this.#memory.transition(task.id, 'running', 'waiting', back, owner);
			}),
		);
		throw failure.reason;
	}

	async transition(
		id: string,
		from: TaskStatus,
		to: TaskStatus,
		patch: TaskPatch,
		owner?: string,
		claim?: ClaimGuard,
	): Promise<TaskRecord | null> {
		await this.#ready();
		const stored = await this.#persistent.transition(id, from, to, patch, owner, claim);
		if (stored === null) return null;
		return (await this.#memory.transition(id, from, to, patch, owner, claim)) ?? stored;
	}

	async renew(owner: string, ids: readonly string[], leaseMs: number, now: number): Promise<RenewResult> {
		await this.#ready();
		const stored = await this.#persistent.renew(owner, ids, leaseMs, now);
		const held = await this.#memory.renew(owner, ids, leaseMs, now);
		return { lost: [...new Set([...stored.lost, ...held.lost])], stopRequested: held.stopRequested };
	}

	async reclaimExpired(now: number): Promise<TaskRecord[]> {
		await this.#ready();
		const moved = await this.#persistent.reclaimExpired(now);
		const result: TaskRecord[] = [];
		for (const task of moved) {
			const held = await this.#memory.get(task.id);
			const patch: TaskPatch = {
				owner: task.owner,
				leaseUntil: task.leaseUntil,
				runAt: task.runAt,
				error: task.error,
				finishedAt: task.finishedAt,
			};
			const applied =
				held !== null && (held.status === 'running' || held.status === 'exporting')
					? await this.#memory.transition(task.id, held.status, task.status, patch)
					: null;
			result.push(applied ?? task);
		}
		return result;
	}

	async requestStop(id: string): Promise<TaskRecord | null> {
		await this.#ready();
		const stored = await this.#persistent.requestStop(id);
		if (stored === null) return null;
		return (await this.#memory.requestStop(id)) ?? stored;
	}

	async nextDueAt(now: number): Promise<number | null> {
		await this.#ready();
		return this.#memory.nextDueAt(now);
	}

	async get(id: string): Promise<TaskRecord | null> {
		await this.#ready();
		return (await this.#memory.get(id)) ?? (await this.#persistent.get(id));
	}

	/** The persistent container's page, `exactTotal` and all (memory holds only the unfinished tasks). */
	async list(query?: TaskQuery): Promise<TaskPage> {
		await this.#ready();
		return this.#persistent.list(query);
	}

	async counts(): Promise<TaskCounts> {
		await this.#ready();
		return this.#persistent.counts();
	}

	async remove(id: string): Promise<boolean> {
		await this.#ready();
		const held = await this.#memory.get(id);
		if (held !== null && (held.status === 'waiting' || held.status === 'running' || held.status === 'exporting')) {
			throw new InvalidStateError(`Task \`${id}\` is ${held.status}: stop it before removing it`);
		}
		const stored = await this.#persistent.remove(id);
		const dropped = held !== null && (await this.#memory.remove(id));
		return stored || dropped;
	}

	async setPaused(paused: boolean): Promise<void> {
		await this.#ready();
		await setPausedBoth(this.#memory, this.#persistent, paused);
	}

	async isPaused(): Promise<boolean> {
		await this.#ready();
		return isPausedMemory(this.#memory);
	}

	async clean(query: CleanQuery): Promise<string[]> {
		await this.#ready();
		return cleanBoth(this.#memory, this.#persistent, query);
	}

	async appendLogs(id: string, lines: readonly string[], maxLines: number): Promise<void> {
		await this.#ready();
		await operation(this.#persistent, 'persistent', 'appendLogs')(id, lines, maxLines);
	}

	async getLogs(id: string, query?: TaskLogQuery): Promise<TaskLogPage> {
		await this.#ready();
		return operation(this.#persistent, 'persistent', 'getLogs')(id, query);
	}

	async putRepeat(repeat: RepeatRecord, expected: RepeatRecord | null): Promise<boolean> {
		await this.#ready();
		return operation(this.#persistent, 'persistent', 'putRepeat')(repeat, expected);
	}

	async getRepeat(key: string): Promise<RepeatRecord | null> {
		await this.#ready();
		return operation(this.#persistent, 'persistent', 'getRepeat')(key);
	}

	async listRepeats(): Promise<RepeatRecord[]> {
		await this.#ready();
		return operation(this.#persistent, 'persistent', 'listRepeats')();
	}

	async removeRepeat(key: string): Promise<boolean> {
		await this.#ready();
		return operation(this.#persistent, 'persistent', 'removeRepeat')(key);
	}

	async advanceRepeat(key: string, expected: number, next: number | null, task: TaskRecord | null): Promise<boolean> {
		await this.#ready();
		return advanceBoth(this.#memory, this.#persistent, { key, expected, next, task });
	}

	/** Task changes: its memory half's (every change goes through it; one process owns a combined container). */
	async readChanges(query: TaskChangeQuery): Promise<TaskChangePage> {
		await this.#ready();
		return operation(this.#memory, 'memory', 'readChanges')(query);
	}

	watch(listener: (signal: ContainerSignal) => void): () => void {
		if (typeof this.#memory.watch !== 'function') return () => undefined;
		return this.#memory.watch(listener);
	}

	/** Close both containers (after a restore in progress settles). A second call waits for the first. */
	close(): Promise<void> {
		this.#closing ??= this.#close();
		return this.#closing;
	}

	async #close(): Promise<void> {
		this.#closed = true;
		await this.#restoring?.catch(() => undefined);
		let failure: unknown = null;
		for (const container of [this.#memory, this.#persistent]) {
			try {
				await container.close();
			} catch (error) {
				failure ??= error;
			}
		}
		if (failure !== null) throw failure;
	}

	async #ready(): Promise<void> {
		if (this.#closed) throw new SchedulerClosedError('container');
		await this.restore();
	}

	/**
	 * Store a claim made in memory: the same running state, by compare-and-set from `waiting`. Returns `false` when
	 * the store says the task cannot run (it finished or is gone: memory is brought in line and the task dropped
	 * from the claim). A task the store still has `running` from an earlier claim whose hand-back could not be
	 * stored is claimed over: one process owns the combination, so that claim is ours and stale.
	 */
	async #storeClaim(task: TaskRecord): Promise<boolean> {
		const patch: TaskPatch = {
			attempts: task.attempts,
			owner: task.owner,
			leaseUntil: task.leaseUntil,
			startedAt: task.startedAt,
			// The memory record's own value: a claim keeps a standing stop request (as every container's claim does).
			stopRequested: task.stopRequested,
		};
		if ((await this.#persistent.transition(task.id, 'waiting', 'running', patch)) !== null) return true;
		const stored = await this.#persistent.get(task.id);
		if (stored !== null && (stored.status === 'running' || stored.status === 'exporting')) {
			if ((await this.#persistent.transition(task.id, stored.status, 'running', patch)) !== null) return true;
		}
		const owner = task.owner ?? undefined;
		if (stored === null) {
			await this.#memory.transition(
				task.id,
				'running',
				'stopped',
				{ owner: null, leaseUntil: null, finishedAt: Date.now() },
				owner,
			);
			await this.#memory.remove(task.id);
			return false;
		}
		if (stored.status === 'succeeded' || stored.status === 'failed' || stored.status === 'stopped') {
			const { attempts, startedAt, finishedAt, error, output, progress, ref } = stored;
			const aligned: TaskPatch = {
				attempts,
				startedAt,
				finishedAt,
				error,
				output,
				progress,
				ref,
				owner: null,
				leaseUntil: null,
			};
			await this.#memory.transition(task.id, 'running', stored.status, aligned, owner);
			return false;
		}
		throw new InvalidStateError(
			`Task \`${task.id}\` is waiting in memory but ${stored.status} in the persistent container`,
		);
	}
}

function checkContainer(name: string, value: unknown): asserts value is TaskContainer {
	if (typeof value !== 'object' || value === null) {
		throw new TypeError(`Expected \`${name}\` to be a TaskContainer, got ${describeValue(value)}`);
	}
	for (const method of [
		'add',
		'claim',
		'transition',
		'renew',
		'reclaimExpired',
		'requestStop',
		'nextDueAt',
		'get',
		'list',
		'counts',
		'remove',
		'close',
	]) {
		if (typeof (value as Record<string, unknown>)[method] !== 'function') {
			throw new TypeError(
				`Expected \`${name}.${method}\` to be a function, got ${describeValue((value as Record<string, unknown>)[method])}`,
			);
		}
	}
}
