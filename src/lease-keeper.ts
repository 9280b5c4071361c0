/**
 * Leases on a shared container: renew this scheduler's running tasks every third of the lease while work runs,
 * and sweep expired leases (any scheduler's) every half lease, so a dead scheduler's tasks run again elsewhere.
 * No leader: every scheduler sweeps.
 */
import type { TaskContainer } from './contracts.js';
import type { TaskRecord } from './task.js';

export interface LeaseKeeperHost {
	/** Ids of the tasks this scheduler runs now. */
	runningIds(): string[];
	/** The lease on `id` was lost (reclaimed or finished elsewhere). */
	lost(id: string): void;
	/** Someone asked to stop `id`. */
	stopRequested(id: string): void;
	/** The sweep moved these tasks (to waiting, failed or stopped). */
	reclaimed(tasks: TaskRecord[]): void;
	report(error: unknown, context?: string): void;
}

export class LeaseKeeper {
	readonly #container: TaskContainer;
	readonly #owner: string;
	readonly #leaseMs: number;
	readonly #host: LeaseKeeperHost;
	#renewTimer: ReturnType<typeof setInterval> | undefined;
	#sweepTimer: ReturnType<typeof setInterval> | undefined;

	constructor(container: TaskContainer, owner: string, leaseMs: number, host: LeaseKeeperHost) {
		this.#container = container;
		this.#owner = owner;
		this.#leaseMs = leaseMs;
		this.#host = host;
	}

	/** Start sweeping (now, then every half lease). */
	start(): void {
		this.#sweepTimer = setInterval(() => this.#sweep(), Math.max(50, Math.floor(this.#leaseMs / 2)));
		this.#sweep();
	}

	/** Work runs: keep renewing until `idle()`. */
	renewing(): void {
		this.#renewTimer ??= setInterval(() => this.#renew(), Math.max(30, Math.floor(this.#leaseMs / 3)));
	}

	/** No work runs: stop renewing. */
	idle(): void {
		clearInterval(this.#renewTimer);
		this.#renewTimer = undefined;
	}

	stop(): void {
		this.idle();
		clearInterval(this.#sweepTimer);
		this.#sweepTimer = undefined;
	}

	#renew(): void {
		const ids = this.#host.runningIds();
		if (ids.length === 0) return;
		this.#container.renew(this.#owner, ids, this.#leaseMs, Date.now()).then(
			({ lost, stopRequested }) => {
				for (const id of lost) this.#host.lost(id);
				for (const id of stopRequested) this.#host.stopRequested(id);
			},
			(error: unknown) => this.#host.report(error, 'lease renewal failed'),
		);
	}

	#sweep(): void {
		this.#container.reclaimExpired(Date.now()).then(
			(moved) => {
				if (moved.length > 0) this.#host.reclaimed(moved);
			},
			(error: unknown) => this.#host.report(error, 'reclaiming expired leases failed'),
		);
	}
}
