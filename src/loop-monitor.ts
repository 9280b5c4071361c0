/**
 * Watches the event loop for blocks while a scheduler holds leases. A block is timer drift: the monitor's timer
 * fires late by the time the loop was busy. Synchronous work (a CPU-bound function run in closure mode, a huge
 * `JSON.parse`) blocks every timer of the process, the lease renewal's too, and a lease that is not renewed lapses
 * and lets another scheduler take the task over while it still runs here. The monitor reports blocks long enough
 * to put leases at risk, and remembers recent ones, so a lost lease can be reported with the block that lost it;
 * `loopBlockedEvent` words such a block as the scheduler's `loop:blocked` event.
 */
import { performance } from 'node:perf_hooks';
import type { LoopBlockedEvent } from './events.js';

/** A block of the event loop: how long, and when it ended (ms since the epoch). */
export interface LoopBlock {
	readonly blockedMs: number;
	readonly endedAt: number;
}

const KEPT = 32;

export class LoopMonitor {
	readonly #intervalMs: number;
	readonly #reportMs: number;
	readonly #onBlock: (block: LoopBlock) => void;
	readonly #blocks: LoopBlock[] = [];
	#timer: ReturnType<typeof setTimeout> | undefined;
	/** When the timer should fire (performance.now() time); it fires late by as long as the loop was blocked. */
	#due = 0;

	/**
	 * @param intervalMs how often the monitor's timer runs while started
	 * @param reportMs the shortest block reported to `onBlock` (shorter ones are not kept either)
	 */
	constructor(intervalMs: number, reportMs: number, onBlock: (block: LoopBlock) => void) {
		this.#intervalMs = intervalMs;
		this.#reportMs = reportMs;
		this.#onBlock = onBlock;
	}

	/** Watch (while work runs). Idempotent. */
	start(): void {
		if (this.#timer !== undefined) return;
		this.#arm();
	}

	/** Stop watching (no work runs). */
	stop(): void {
		if (this.#timer === undefined) return;
		clearTimeout(this.#timer);
		this.#timer = undefined;
	}

	/**
	 * Measure now: a block that just ended (or is ending: the caller runs right after it) is recorded and reported
	 * before the monitor's own timer would see it. Called by the timer, and by whoever is about to report a lost lease.
	 */
	check(): void {
		if (this.#timer === undefined) return;
		const now = performance.now();
		const late = now - this.#due;
		if (late < this.#reportMs) return;
		// Measured once: the timer, firing right after, measures from here.
		this.#due = now;
		const block: LoopBlock = { blockedMs: Math.round(late), endedAt: Date.now() };
		this.#blocks.push(block);
		if (this.#blocks.length > KEPT) this.#blocks.shift();
		this.#onBlock(block);
	}

	/** The longest block that ended at or after `since` (ms since the epoch), if any was recorded. */
	longestSince(since: number): LoopBlock | undefined {
		this.check();
		let longest: LoopBlock | undefined;
		for (const block of this.#blocks)
			if (block.endedAt >= since && (longest === undefined || block.blockedMs > longest.blockedMs))
				longest = block;
		return longest;
	}

	#arm(): void {
		this.#due = performance.now() + this.#intervalMs;
		this.#timer = setTimeout(() => {
			this.check();
			this.#arm();
		}, this.#intervalMs);
		this.#timer.unref();
	}
}

/** The `loop:blocked` event for a block of `blockedMs` while `tasks` ran, with what to do about it in words. */
export function loopBlockedEvent(blockedMs: number, leaseMs: number, tasks: readonly string[]): LoopBlockedEvent {
	const leaseExpired = blockedMs >= leaseMs;
	const message =
		`The event loop was blocked for ${blockedMs} ms while running ${tasks.map((id) => `\`${id}\``).join(', ') || 'no task'} ` +
		`(leaseMs ${leaseMs}): ${leaseExpired ? 'their leases may have lapsed and other schedulers may run them too' : 'their leases were at risk'}. ` +
		'Run CPU-bound work in a worker thread (the FunctionActuator worker form) or raise leaseMs.';
	return { blockedMs, leaseMs, tasks, leaseExpired, message };
}
