/**
 * One sampler of the counts for every viewer: while someone watches (a live stream is open, or the stats or the task
 * list were read in the last minute) it reads `counts()` every `sampleMs`, keeps the recent history (per second and
 * per minute) and hands each sample to the live streams. Queue latency and the pause flag are read every fifth
 * sample. A slow `counts()` (SQLite's `GROUP BY status` over a million rows takes tens of ms, more under load)
 * spaces the samples out: the next one starts at least ten times the last one's duration after it, so the sampler
 * keeps the container busy a tenth of the time at most. The task list takes its total from the last sample
 * (`recentCounts`) instead of counting for each page.
 */
import type { TaskCounts } from 'lightsched';

/** How long tasks wait before they start. */
export interface QueueLatency {
	/** How long the oldest waiting task (by arrival) has been due and waiting, in ms; `null` when none waits. */
	readonly oldestWaitingMs: number | null;
	/** The median wait (from due to start) of the most recently started running tasks, in ms; `null` when none. */
	readonly recentWaitMs: number | null;
	/** How many running tasks `recentWaitMs` is the median of. */
	readonly recentCount: number;
}

/** Finished tasks per second in one interval (a rate: a sample interval or a minute). */
export interface RatePoint {
	/** The interval's end (for a minute: its start), in ms since the epoch. */
	readonly t: number;
	/** The interval's length in ms (a minute's point: 60000). */
	readonly ms: number;
	/** Tasks that succeeded, per second. */
	readonly succeeded: number;
	/** Tasks that failed for good, per second. */
	readonly failed: number;
	/** Tasks stopped, per second. */
	readonly stopped: number;
}

/** What a viewer gets: the last counts and the history. */
export interface StatsSnapshot {
	/** When the counts were read (ms since the epoch), `null` before the first sample. */
	readonly at: number | null;
	/** The last counts read, `null` before the first sample. */
	readonly counts: TaskCounts | null;
	/** Whether the queue is paused (`pauseQueue()`), `null` when unknown. */
	readonly paused: boolean | null;
	/** How long tasks wait, read every fifth sample; `null` before the first. */
	readonly latency: QueueLatency | null;
	/** The last error reading the container, if the last sample failed. */
	readonly error: string | null;
	/** Per sample (about per second), the newest last. */
	readonly seconds: readonly RatePoint[];
	/** Per minute, the newest (still filling) last. */
	readonly minutes: readonly RatePoint[];
}

/** What the sampler reads. */
export interface SamplerSource {
	counts(): Promise<TaskCounts>;
	latency(now: number): Promise<QueueLatency>;
	paused(): Promise<boolean | null>;
}

/** The next sample waits at least this many times the last one's duration (see the module comment). */
const SLOW_FACTOR = 10;
const KEEP_SECONDS = 300;
const KEEP_MINUTES = 60;
const IDLE_AFTER_MS = 60_000;

/** Samples while watched; see the module comment. */
export class CountsSampler {
	readonly #source: SamplerSource;
	readonly #intervalMs: number;
	readonly #listeners = new Set<(snapshot: StatsSnapshot) => void>();
	#timer: ReturnType<typeof setTimeout> | undefined;
	#lastWatched = 0;
	#tick = 0;
	#prev: { at: number; counts: TaskCounts } | null = null;
	#snapshot: StatsSnapshot = {
		at: null,
		counts: null,
		paused: null,
		latency: null,
		error: null,
		seconds: [],
		minutes: [],
	};
	#first: Promise<void> | null = null;
	#closed = false;
	/** The wait before the next sample: `sampleMs`, or longer after a slow sample. */
	#delayMs: number;

	constructor(source: SamplerSource, intervalMs: number) {
		this.#source = source;
		this.#intervalMs = intervalMs;
		this.#delayMs = intervalMs;
	}

	/** The last snapshot; a poll counts as watching (the sampler runs for a minute after). */
	async poll(): Promise<StatsSnapshot> {
		this.#watched();
		if (this.#first !== null) await this.#first;
		return this.#snapshot;
	}

	/**
	 * The last sampled counts and when they were read, for a request that shows them (the task list's total)
	 * without reading the container itself: the cached sample while it is recent (younger than two sample waits),
	 * else the next sample, shared with every other caller. `null` when the sample failed. Counts as watching.
	 */
	async recentCounts(): Promise<{ readonly at: number; readonly counts: TaskCounts } | null> {
		this.#watched();
		const { at, counts } = this.#snapshot;
		if (at !== null && counts !== null && Date.now() - at <= 2 * this.#delayMs) return { at, counts };
		const fresh = await this.poll();
		return fresh.at === null || fresh.counts === null || fresh.error !== null
			? null
			: { at: fresh.at, counts: fresh.counts };
	}

	/** Hear every sample until the returned function is called. */
	subscribe(listener: (snapshot: StatsSnapshot) => void): () => void {
		this.#listeners.add(listener);
		this.#watched();
		return () => {
			this.#listeners.delete(listener);
			this.#lastWatched = Date.now();
		};
	}

	/** Stop sampling for good. */
	close(): void {
		this.#closed = true;
		clearTimeout(this.#timer);
		this.#timer = undefined;
		this.#listeners.clear();
	}

	#watched(): void {
		this.#lastWatched = Date.now();
		if (this.#timer !== undefined || this.#closed || this.#first !== null) return;
		// Restarting after an idle spell: the next sample sets a new baseline, no rate across the gap.
		this.#prev = null;
		this.#tick = 0;
		this.#first = this.#sample().finally(() => {
			this.#first = null;
			this.#schedule();
		});
	}

	#schedule(): void {
		if (this.#closed) return;
		if (this.#listeners.size === 0 && Date.now() - this.#lastWatched > IDLE_AFTER_MS) return;
		this.#timer = setTimeout(() => {
			this.#timer = undefined;
			this.#first = this.#sample().finally(() => {
				this.#first = null;
				this.#schedule();
			});
		}, this.#delayMs);
		this.#timer.unref?.();
	}

	async #sample(): Promise<void> {
		const full = this.#tick++ % 5 === 0;
		const started = performance.now();
		try {
			const [counts, latency, paused] = await Promise.all([
				this.#source.counts(),
				full ? this.#source.latency(Date.now()) : Promise.resolve(this.#snapshot.latency),
				full ? this.#source.paused() : Promise.resolve(this.#snapshot.paused),
			]);
			const at = Date.now();
			this.#record(at, counts, latency, paused);
		} catch (error) {
			this.#snapshot = { ...this.#snapshot, error: error instanceof Error ? error.message : String(error) };
		}
		this.#delayMs = Math.max(this.#intervalMs, Math.ceil(SLOW_FACTOR * (performance.now() - started)));
		for (const listener of this.#listeners) listener(this.#snapshot);
	}

	#record(at: number, counts: TaskCounts, latency: QueueLatency | null, paused: boolean | null): void {
		let seconds = this.#snapshot.seconds;
		let minutes = this.#snapshot.minutes;
		const prev = this.#prev;
		if (prev !== null && at > prev.at) {
			const perSecond = 1000 / (at - prev.at);
			const delta = (key: 'succeeded' | 'failed' | 'stopped') => Math.max(0, counts[key] - prev.counts[key]);
			const point: RatePoint = {
				t: at,
				ms: at - prev.at,
				succeeded: delta('succeeded') * perSecond,
				failed: delta('failed') * perSecond,
				stopped: delta('stopped') * perSecond,
			};
			seconds = [...seconds.slice(-(KEEP_SECONDS - 1)), point];
			minutes = addToMinute(minutes, at, delta('succeeded'), delta('failed'), delta('stopped'));
		}
		this.#prev = { at, counts };
		this.#snapshot = { at, counts, latency, paused, error: null, seconds, minutes };
	}
}

/** Add finished counts to the minute of `at` (a rate per second over the whole minute). */
function addToMinute(
	minutes: readonly RatePoint[],
	at: number,
	succeeded: number,
	failed: number,
	stopped: number,
): readonly RatePoint[] {
	const t = Math.floor(at / 60_000) * 60_000;
	const last = minutes[minutes.length - 1];
	if (last !== undefined && last.t === t)
		return [
			...minutes.slice(0, -1),
			{
				t,
				ms: 60_000,
				succeeded: last.succeeded + succeeded / 60,
				failed: last.failed + failed / 60,
				stopped: last.stopped + stopped / 60,
			},
		];
	return [
		...minutes.slice(-(KEEP_MINUTES - 1)),
		{ t, ms: 60_000, succeeded: succeeded / 60, failed: failed / 60, stopped: stopped / 60 },
	];
}
