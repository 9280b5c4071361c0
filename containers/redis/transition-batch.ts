/**
 * Coalescing transitions: those issued in the same tick (at concurrency 100 dozens of tasks finish at once) go to
 * Redis as ONE `transition` script call, which applies each as its own compare-and-set and returns one reply per
 * transition. One socket write, one script invocation and one reply serve a burst instead of one of each per task.
 *
 * A batch is sent once the current tick's microtasks have run (`process.nextTick` queued from a microtask runs
 * after the microtask queue drains), so every transition a burst of settled promises issues joins it, or at once
 * when it reaches `maxItems` (so Redis starts on it while this process still finishes the rest of the burst). At
 * most `maxInFlight` batches wait for their reply at once; meanwhile new transitions gather into the next batch.
 * A reply's error entry fails its transition only; a failed call (connection lost) fails all of its batch.
 */

/** Sends one batch (its items, each a transition's arguments) and resolves with one entry per item, in order. */
export type SendBatch<T = string[]> = (items: readonly T[]) => Promise<readonly unknown[]>;

interface Pending<T> {
	readonly args: T;
	readonly resolve: (reply: unknown) => void;
	readonly reject: (error: unknown) => void;
}

export interface TransitionBatchOptions {
	/** The most transitions in one script call (a script blocks Redis while it runs). */
	readonly maxItems: number;
	/** The most batches sent and not yet answered. */
	readonly maxInFlight: number;
}

export class TransitionBatch<T = string[]> {
	readonly #send: SendBatch<T>;
	readonly #maxItems: number;
	readonly #maxInFlight: number;
	#pending: Pending<T>[] = [];
	#scheduled = false;
	#inFlight = 0;
	/** The batches sent and not yet answered (settled once each was answered and its replies handed out). */
	readonly #sent = new Set<Promise<void>>();
	readonly #idleWaiters: (() => void)[] = [];

	constructor(send: SendBatch<T>, options: TransitionBatchOptions) {
		this.#send = send;
		this.#maxItems = options.maxItems;
		this.#maxInFlight = options.maxInFlight;
	}

	/** Queue one transition's arguments; resolves with its entry of the batch reply (an error entry rejects). */
	submit(args: T): Promise<unknown> {
		return new Promise((resolve, reject) => {
			this.#pending.push({ args, resolve, reject });
			if (this.#pending.length >= this.#maxItems && this.#inFlight < this.#maxInFlight) this.#sendOne();
			else this.#schedule();
		});
	}

	/** Send everything queued now (ignoring the in-flight bound) and resolve once every batch was answered. */
	async flush(): Promise<void> {
		while (this.#pending.length > 0 || this.#inFlight > 0) {
			while (this.#pending.length > 0) this.#sendOne();
			await new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
		}
	}

	/** Resolves once every batch sent so far was answered (never rejects). */
	answered(): Promise<void> {
		if (this.#sent.size === 0) return Promise.resolve();
		return Promise.all([...this.#sent]).then(() => undefined);
	}

	#schedule(): void {
		if (this.#scheduled || this.#pending.length === 0 || this.#inFlight >= this.#maxInFlight) return;
		this.#scheduled = true;
		process.nextTick(() => {
			this.#scheduled = false;
			while (this.#pending.length > 0 && this.#inFlight < this.#maxInFlight) this.#sendOne();
		});
	}

	#sendOne(): void {
		const batch = this.#pending.length <= this.#maxItems ? this.#pending : this.#pending.slice(0, this.#maxItems);
		this.#pending = batch === this.#pending ? [] : this.#pending.slice(this.#maxItems);
		this.#inFlight++;
		const sent: Promise<void> = this.#send(batch.map((p) => p.args)).then(
			(replies) => {
				if (replies.length !== batch.length) {
					const error = new Error(
						`The transition script answered ${replies.length} replies to ${batch.length} transitions`,
					);
					for (const p of batch) p.reject(error);
					this.#done();
					return;
				}
				batch.forEach((p, i) => {
					const reply = replies[i];
					if (reply instanceof Error) p.reject(reply);
					else p.resolve(reply);
				});
				this.#done();
			},
			(error: unknown) => {
				for (const p of batch) p.reject(error);
				this.#done();
			},
		);
		this.#sent.add(sent);
		void sent.then(() => this.#sent.delete(sent));
	}

	#done(): void {
		this.#inFlight--;
		this.#schedule();
		if (this.#inFlight === 0) for (const resolve of this.#idleWaiters.splice(0)) resolve();
	}
}
