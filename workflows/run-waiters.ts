/**
 * The callers of `Workflows.wait`, by run: each is told once, with the settled run (final, nothing running, its
 * callback called), or that the run is gone (removed after it ended: `remove`, `clean`, the `retention` option).
 * The process whose write settles a run tells its waiters at once; the engine's sweep tells the others (it reads the
 * waited runs that are no longer open).
 */
import { toError } from 'lightsched/kit';
import { isFinalRunStatus, type RunRecord } from '../src/workflow-store.js';
import { RunNotFoundError, WorkflowError } from './errors.js';
import { copyRun } from './advance.js';

type Waiter = (run: RunRecord | null) => void;

/** The waiters of the runs waited for in this process. */
export class RunWaiters {
	readonly #byRun = new Map<string, Set<Waiter>>();
	readonly #read: (runId: string) => Promise<RunRecord | null>;

	constructor(read: (runId: string) => Promise<RunRecord | null>) {
		this.#read = read;
	}

	/**
	 * The run once settled; rejects with `RunNotFoundError` when there is none or it is removed first, and with
	 * `ERR_RUN_STATE` after `timeoutMs` (checked by the caller). The waiter listens before the first read: a run
	 * that settles while it is read is heard, and one removed soon after it ended is not waited for in vain. A first
	 * read that fails (the store out of reach) does not end the wait: the sweeps read the run again, as `waitFor`
	 * reads a task again; the timeout's error then names that read's failure (and has it as its `cause`).
	 */
	wait(runId: string, timeoutMs: number | undefined): Promise<RunRecord> {
		return new Promise<RunRecord>((resolve, reject) => {
			let timer: ReturnType<typeof setTimeout> | undefined;
			let readError: unknown;
			const waiter: Waiter = (run) => {
				clearTimeout(timer);
				this.#drop(runId, waiter);
				if (run === null) reject(new RunNotFoundError(runId));
				else resolve(run);
			};
			let set = this.#byRun.get(runId);
			if (set === undefined) this.#byRun.set(runId, (set = new Set()));
			set.add(waiter);
			if (timeoutMs !== undefined) {
				timer = setTimeout(() => {
					this.#drop(runId, waiter);
					const unread =
						readError === undefined ? '' : `; its first read failed (${toError(readError).message})`;
					reject(
						new WorkflowError(
							`Workflow run \`${runId}\` did not finish within ${timeoutMs} ms${unread}`,
							'ERR_RUN_STATE',
							readError === undefined ? undefined : { cause: readError },
						),
					);
				}, timeoutMs);
			}
			this.#read(runId).then(
				(run) => {
					if (run === null || !run.open) waiter(run);
				},
				(error: unknown) => {
					readError = error;
				},
			);
		});
	}

	/** The runs waited for. */
	runIds(): string[] {
		return [...this.#byRun.keys()];
	}

	/** A run was written or read settled: its waiters get a copy each. */
	settled(run: RunRecord): void {
		if (run.open || !isFinalRunStatus(run.status)) return;
		const waiters = this.#byRun.get(run.id);
		if (waiters === undefined) return;
		this.#byRun.delete(run.id);
		for (const waiter of waiters) waiter(copyRun(run));
	}

	/** A waited run was read as removed: its waiters are told it is gone. */
	gone(runId: string): void {
		const waiters = this.#byRun.get(runId);
		if (waiters === undefined) return;
		this.#byRun.delete(runId);
		for (const waiter of waiters) waiter(null);
	}

	#drop(runId: string, waiter: Waiter): void {
		const set = this.#byRun.get(runId);
		set?.delete(waiter);
		if (set?.size === 0) this.#byRun.delete(runId);
	}
}
