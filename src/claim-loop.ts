/**
 * Claiming work: take due tasks from the container up to the concurrency limit and hand them to the runner; when
 * there are none, sleep until the next due time, or poll where nothing can wake us. Adds, finishes and the
 * container's wake-up channel call `fill()`; it never spins.
 */
import type { SyncContainerOperations } from './contracts.js';
import { RateLimiter } from './rate-limit.js';
import { reportFailure, type SchedulerCore } from './scheduler-core.js';
import type { TaskRecord } from './task.js';

export interface ClaimLoopHost<TItem, TOutput> {
	/** Called before each claim on the synchronous face: tasks stored but not yet announced are announced first. */
	beforeClaim(): void;
	/** Tasks held here now (running, being stored, waiting to start): none means this scheduler may be idle. */
	running(): number;
	/** Slots taken: `concurrency` minus this is how many tasks a claim may take (see `AttemptRunner.taken`). */
	taken(): number;
	/** Start a claimed task. */
	start(task: TaskRecord<TItem, TOutput>): void;
	/** Nothing was claimable and nothing runs: see whether the container is idle. */
	checkIdle(): void;
}

export class ClaimLoop<TItem, TOutput> {
	readonly #core: SchedulerCore<TItem, TOutput>;
	readonly #host: ClaimLoopHost<TItem, TOutput>;
	#claiming = false;
	#refill = false;
	#claimsStarted = 0;
	/** A fill is due on the next turn of the event loop (`slotFreed`). */
	#fillSoon = false;
	/** Fences held (`fence()`): no claim starts while one is held. */
	#fences = 0;
	/** Fences waiting for the claim in flight to answer. */
	#fenceWaiters: (() => void)[] = [];
	/** Whether the container's wake-up channel works (an in-process container needs none). */
	#channelUp: boolean;
	/** The scheduler's own `rateLimit`, or null. */
	readonly #rate: RateLimiter | null;

	constructor(core: SchedulerCore<TItem, TOutput>, host: ClaimLoopHost<TItem, TOutput>) {
		this.#core = core;
		this.#host = host;
		this.#channelUp = typeof core.options.container.watch === 'function';
		const { rateLimit } = core.options;
		this.#rate = rateLimit === undefined ? null : new RateLimiter(rateLimit);
	}

	/**
	 * How many tasks to claim at `now`: the free slots, cut to what the rate limit allows. When the limit allows
	 * none, the due timer wakes us when the window reopens (never sooner: no spin).
	 */
	#allowed(free: number, now: number): number {
		const rate = this.#rate;
		if (rate === null || free <= 0) return free;
		const allowance = rate.allowance(now);
		if (allowance <= 0) this.#core.timers.at(rate.reopensAt(now));
		return Math.min(free, allowance);
	}

	/** How many claims were made, and whether one is in flight (the lease keeper tells a lost claim reply by it). */
	claims(): { readonly started: number; readonly inFlight: boolean } {
		return {
			started: this.#claimsStarted,
			inFlight: this.#claiming && this.#core.options.container.sync === undefined,
		};
	}

	/**
	 * Hold claims off: resolves, once no claim of this scheduler is in flight, with the function that lets them
	 * start again. Handing back a task a renewal found unknown reads it and moves it under a fence, so no claim of
	 * ours can take that task again between the read and the move and then see it handed back from under it.
	 */
	fence(): Promise<() => void> {
		this.#fences++;
		let released = false;
		const release = (): void => {
			if (released) return;
			released = true;
			this.#fences--;
			if (this.#fences === 0) this.fill();
		};
		if (!this.#claiming || this.#core.options.container.sync !== undefined) return Promise.resolve(release);
		return new Promise((resolve) => this.#fenceWaiters.push(() => resolve(release)));
	}

	/** The claim in flight answered: fences waiting for it are held now. */
	#claimEnded(): void {
		this.#claiming = false;
		if (this.#fenceWaiters.length > 0) for (const resolve of this.#fenceWaiters.splice(0)) resolve();
	}

	/** The wake-up channel broke or came back: poll while it is down. */
	channel(ok: boolean): void {
		this.#channelUp = ok;
		if (ok) this.fill();
		else this.#core.timers.poll();
	}

	/**
	 * A slot was freed: look for work, at once, or on the next turn of the event loop for a container that asks for
	 * its claims gathered (`TaskContainer.gatherClaims`), so that the slots a burst of finishes frees go in one claim.
	 */
	slotFreed(clock?: number): void {
		const container = this.#core.options.container;
		if (container.gatherClaims !== true || container.sync !== undefined) {
			this.fill(clock);
			return;
		}
		if (this.#claiming) {
			this.#refill = true;
			return;
		}
		if (this.#fillSoon) return;
		this.#fillSoon = true;
		setImmediate(() => {
			this.#fillSoon = false;
			this.fill();
		});
	}

	/**
	 * Look for work. `clock`: the time the caller has just read (a finish on the synchronous face), which the claim
	 * that follows in the same call takes as its own instead of reading the clock again.
	 */
	fill(clock?: number): void {
		const core = this.#core;
		if (core.closed() || core.paused()) return;
		if (this.#claiming) {
			this.#refill = true;
			return;
		}
		// A fence's release fills again.
		if (this.#fences > 0) return;
		const { container, concurrency, leaseMs } = core.options;
		if (container.sync) {
			this.#fillSync(container.sync, clock);
			return;
		}
		const now = Date.now();
		const free = this.#allowed(concurrency - this.#host.taken(), now);
		if (free <= 0) return;
		this.#claiming = true;
		this.#refill = false;
		this.#claimsStarted++;
		container.claim(free, core.id, leaseMs, now).then(
			(claimed) => {
				this.#claimEnded();
				this.#rate?.record(claimed.length, now);
				core.containerHealth.ok(now);
				if (core.closed()) {
					for (const task of claimed) this.#handBack(task);
					return;
				}
				for (const task of claimed) this.#host.start(task as TaskRecord<TItem, TOutput>);
				if (claimed.length === free || this.#refill) {
					this.fill();
				} else {
					this.#planWake(now);
					if (claimed.length === 0 && this.#host.running() === 0) this.#host.checkIdle();
				}
			},
			(error: unknown) => {
				this.#claimEnded();
				reportFailure(core as SchedulerCore, 'container', 'claiming tasks', error, now);
				// The claim may have been applied with its reply lost: a renewal finds its tasks and hands them back.
				core.leases?.claimFailed();
				core.timers.poll();
			},
		);
	}

	/**
	 * The same loop on an in-process container's synchronous face. Work that finishes synchronously while we
	 * start tasks asks for another round (`#refill`) instead of recursing, so a queue of sync functions never
	 * grows the stack.
	 */
	#fillSync(sync: SyncContainerOperations, clock: number | undefined): void {
		const core = this.#core;
		const { concurrency, leaseMs } = core.options;
		const host = this.#host;
		this.#claiming = true;
		try {
			for (;;) {
				this.#refill = false;
				if (core.closed() || core.paused()) return;
				// No clock read when every slot is taken: the round after a claim that filled them ends here, and
				// `Date.now()` costs 0.2 µs on some virtual machines (one per task: a tenth of the hot path there).
				// Nor in the first round after a finish that has just read it (`clock`).
				const slots = concurrency - host.taken();
				if (slots <= 0) return;
				const now = clock ?? Date.now();
				clock = undefined;
				const free = this.#allowed(slots, now);
				if (free <= 0) return;
				host.beforeClaim();
				const claimed = sync.claim(free, core.id, leaseMs, now);
				this.#rate?.record(claimed.length, now);
				for (let i = 0; i < claimed.length; i++) host.start(claimed[i] as TaskRecord<TItem, TOutput>);
				if (claimed.length < free && !this.#refill) {
					this.#planWake(now);
					if (claimed.length === 0 && this.#host.running() === 0) this.#host.checkIdle();
					return;
				}
			}
		} catch (error) {
			reportFailure(core as SchedulerCore, 'container', 'claiming tasks', error);
			core.timers.poll();
		} finally {
			this.#claiming = false;
		}
	}

	/** Sleep until the next retry is due, or poll when nothing can wake us. */
	#planWake(now: number): void {
		const core = this.#core;
		const { container } = core.options;
		if (container.shared && !this.#channelUp) core.timers.poll();
		container.nextDueAt(now).then(
			(at) => {
				core.containerHealth.ok(now);
				if (at !== null) core.timers.at(at);
			},
			(error: unknown) => {
				reportFailure(core as SchedulerCore, 'container', 'looking up the next due time', error, now);
				core.timers.poll();
			},
		);
	}

	/** A task claimed while closing: back to waiting, uncounted. */
	#handBack(task: TaskRecord): void {
		this.#core.writer
			.handBack(task)
			.catch((error: unknown) => this.#core.reporter.error(error, `handing back task ${task.id} failed`));
	}
}
