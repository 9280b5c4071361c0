/**
 * A `RedisWorkflowStore`'s creates and updates issued in the same tick go as ONE script call each (CREATE_RUNS,
 * UPDATE_RUNS in workflow-scripts.ts), as the container's transitions and the store's step releases do
 * (transition-batch.ts): every run's change is still its own check and write, with its own reply. A burst of
 * `start`s, or of runs reaching their last step together, costs one round trip and one socket write instead of one
 * per run; a lone change goes at the end of its tick, alone.
 */
import { ContainerError } from 'lightsched';
import { flatten } from './codec.js';
import { TransitionBatch } from './transition-batch.js';
import { CREATE_RUNS, UPDATE_RUNS, type WorkflowScript } from './workflow-scripts.js';

/** The most changes in one call, and the most such calls awaiting their reply (as the step releases). */
const MAX_ITEMS = 25;
const MAX_IN_FLIGHT = 4;

/** Runs one of the store's scripts with its arguments (bounded), failing as the store's calls fail. */
export type RunScript = (script: WorkflowScript, args: readonly string[]) => Promise<unknown>;

export class RunWrites {
	readonly #creates: TransitionBatch;
	readonly #updates: TransitionBatch;

	/** `where` names the store and server in the error of a change the server failed. */
	constructor(run: RunScript, where: () => string) {
		const send =
			(script: WorkflowScript) =>
			async (items: readonly string[][]): Promise<readonly unknown[]> => {
				const replies = (await run(script, flatten(items))) as unknown[];
				// A change the server failed (a command of it) comes back as its error entry; the others applied.
				return replies.map((entry) =>
					Array.isArray(entry)
						? entry
						: new ContainerError(`${where()}: ${script.name} failed: ${String(entry)}`, { cause: entry }),
				);
			};
		const options = { maxItems: MAX_ITEMS, maxInFlight: MAX_IN_FLIGHT };
		this.#creates = new TransitionBatch(send(CREATE_RUNS), options);
		this.#updates = new TransitionBatch(send(UPDATE_RUNS), options);
	}

	/** Create the run (its values as CREATE_RUNS takes them): {'ok'}, {'dup'} or {'dupkey', holder id}. */
	create(values: string[]): Promise<string[]> {
		return this.#creates.submit(values) as Promise<string[]>;
	}

	/** Update the run (the expected rev, then the run): {'ok'}, {'stale'} or {'dupkey', holder id}. */
	update(values: string[]): Promise<string[]> {
		return this.#updates.submit(values) as Promise<string[]>;
	}
}
