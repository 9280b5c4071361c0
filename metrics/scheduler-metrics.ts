/**
 * Prometheus metrics for schedulers (`lightsched/metrics`), through prom-client. A `SchedulerMetrics` registers its
 * metrics once, into the app's registry or a new one, and follows any number of schedulers (`watch`), each under
 * its own `queue` label. Counters and histograms are fed by the scheduler's events (no container call); the
 * per-status gauge reads `counts()` when scraped, at most once per `countsCacheMs` per scheduler.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Scheduler, TaskCounts, TaskRecord } from 'lightsched';
import { rejectUnknownOptions, TASK_STATUSES } from 'lightsched/kit';

/** Options of `new SchedulerMetrics()`. */
export interface SchedulerMetricsOptions {
	/** Where the metrics are registered (the app's own registry, to serve them with its other metrics). A new one by default. */
	readonly registry?: Registry;
	/**
	 * The metric names' prefix.
	 * @default 'lightsched_'
	 */
	readonly prefix?: string;
	/**
	 * How long a scrape reuses a scheduler's `counts()` (milliseconds): a scrape never costs the container more
	 * than one `counts()` per scheduler per this period.
	 * @default 5000
	 */
	readonly countsCacheMs?: number;
	/**
	 * Bucket bounds (seconds) of the wait and run time histograms.
	 * @default [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 1800]
	 */
	readonly buckets?: readonly number[];
}

/** Options of `watch()`. */
export interface WatchOptions {
	/** The `queue` label of this scheduler's metrics (e.g. the container's name). */
	readonly queue: string;
	/**
	 * The `actuator` label (e.g. `function`, `docker`, `http`).
	 * @default 'function'
	 */
	readonly actuator?: string;
}

const DEFAULT_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 1800];

interface Watched {
	readonly scheduler: { counts(): Promise<TaskCounts> };
	readonly queue: string;
	cached: TaskCounts | undefined;
	cachedAt: number;
	reading: Promise<TaskCounts> | undefined;
}

/** Counters, histograms and gauges of what schedulers do, for Prometheus. */
export class SchedulerMetrics {
	/** The registry holding the metrics: serve `await registry.metrics()` with `registry.contentType`. */
	readonly registry: Registry;
	readonly #events: Counter;
	readonly #retries: Counter;
	readonly #takeovers: Counter;
	readonly #blocked: Counter;
	readonly #outages: Counter;
	readonly #wait: Histogram;
	readonly #run: Histogram;
	readonly #watched = new Map<string, Watched>();
	readonly #countsCacheMs: number;

	constructor(options: SchedulerMetricsOptions = {}) {
		rejectUnknownOptions('SchedulerMetrics', options, ['registry', 'prefix', 'countsCacheMs', 'buckets']);
		const prefix = options.prefix ?? 'lightsched_';
		if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(prefix))
			throw new TypeError(
				`Expected \`prefix\` to be a Prometheus metric name prefix ([a-zA-Z_:][a-zA-Z0-9_:]*), got ${JSON.stringify(prefix)}`,
			);
		const countsCacheMs = options.countsCacheMs ?? 5000;
		if (!Number.isFinite(countsCacheMs) || countsCacheMs < 0)
			throw new TypeError(`Expected \`countsCacheMs\` to be a number >= 0, got ${String(countsCacheMs)}`);
		this.#countsCacheMs = countsCacheMs;
		const buckets = [...(options.buckets ?? DEFAULT_BUCKETS)];
		this.registry = options.registry ?? new Registry();
		const registers = [this.registry];
		this.#events = new Counter({
			name: `${prefix}task_events_total`,
			help: 'Task changes seen by this process: added, started, succeeded, failed, stopped, retrying.',
			labelNames: ['queue', 'actuator', 'event'],
			registers,
		});
		this.#retries = new Counter({
			name: `${prefix}task_retries_total`,
			help: 'Attempts that failed and were scheduled again.',
			labelNames: ['queue', 'actuator'],
			registers,
		});
		this.#takeovers = new Counter({
			name: `${prefix}lease_expired_total`,
			help: 'Tasks whose lease expired (their scheduler died or stalled) and that this process moved on: back to waiting (taken over), failed or stopped.',
			labelNames: ['queue', 'status'],
			registers,
		});
		this.#blocked = new Counter({
			name: `${prefix}loop_blocked_total`,
			help: 'Times the event loop was blocked long enough to put leases at risk.',
			labelNames: ['queue'],
			registers,
		});
		this.#outages = new Counter({
			name: `${prefix}outages_total`,
			help: 'Outages of a part (container or actuator) seen by this process.',
			labelNames: ['queue', 'part'],
			registers,
		});
		this.#wait = new Histogram({
			name: `${prefix}task_wait_seconds`,
			help: 'How long a task waited from the moment it could run (added, or due) to its start.',
			labelNames: ['queue', 'actuator'],
			buckets,
			registers,
		});
		this.#run = new Histogram({
			name: `${prefix}task_run_seconds`,
			help: 'How long an attempt ran, by how it ended (succeeded, failed, stopped, retrying).',
			labelNames: ['queue', 'actuator', 'status'],
			buckets,
			registers,
		});
		const watched = this.#watched;
		const counts = (w: Watched): Promise<TaskCounts> => this.#counts(w);
		new Gauge({
			name: `${prefix}tasks`,
			help: 'Tasks in each status in the container (read with counts(), cached).',
			labelNames: ['queue', 'status'],
			registers,
			async collect() {
				this.reset();
				const all = await Promise.all(
					[...watched.values()].map(async (w) => [w.queue, await counts(w).catch(() => undefined)] as const),
				);
				for (const [queue, c] of all) {
					if (c === undefined) continue;
					for (const status of TASK_STATUSES) this.set({ queue, status }, c[status]);
				}
			},
		});
	}

	/**
	 * Follow `scheduler`'s events under the `queue` label. Returns a function that stops following it (its series
	 * stay; the gauge drops it).
	 */
	watch<TItem, TOutput>(scheduler: Scheduler<TItem, TOutput>, options: WatchOptions): () => void {
		rejectUnknownOptions('watch', options, ['queue', 'actuator']);
		const { queue } = options;
		if (typeof queue !== 'string' || queue === '')
			throw new TypeError(`Expected \`queue\` to be a non-empty string, got ${JSON.stringify(queue)}`);
		if (this.#watched.has(queue)) throw new Error(`A scheduler is already watched under queue \`${queue}\``);
		const actuator = options.actuator ?? 'function';
		const s = scheduler as unknown as Scheduler<unknown, unknown>;
		const labels = { queue, actuator };
		const count = (event: string) => () => this.#events.inc({ ...labels, event });
		const ran = (status: string, task: TaskRecord, end: number): void => {
			if (task.startedAt !== null)
				this.#run.observe({ ...labels, status }, Math.max(0, end - task.startedAt) / 1000);
		};
		const listeners: [string, (...args: never[]) => void][] = [
			['task:added', count('added')],
			[
				'task:started',
				({ task }: { task: TaskRecord }) => {
					this.#events.inc({ ...labels, event: 'started' });
					const since = Math.max(task.createdAt, task.runAt);
					if (task.startedAt !== null) this.#wait.observe(labels, Math.max(0, task.startedAt - since) / 1000);
				},
			],
			[
				'task:succeeded',
				({ task }: { task: TaskRecord }) => {
					this.#events.inc({ ...labels, event: 'succeeded' });
					ran('succeeded', task, task.finishedAt ?? task.updatedAt);
				},
			],
			[
				'task:failed',
				({ task }: { task: TaskRecord }) => {
					this.#events.inc({ ...labels, event: 'failed' });
					ran('failed', task, task.finishedAt ?? task.updatedAt);
				},
			],
			[
				'task:stopped',
				({ task }: { task: TaskRecord }) => {
					this.#events.inc({ ...labels, event: 'stopped' });
					ran('stopped', task, task.finishedAt ?? task.updatedAt);
				},
			],
			[
				'task:retrying',
				({ task }: { task: TaskRecord }) => {
					this.#events.inc({ ...labels, event: 'retrying' });
					this.#retries.inc(labels);
					ran('retrying', task, task.updatedAt);
				},
			],
			[
				'task:lease-expired',
				({ task }: { task: TaskRecord }) => this.#takeovers.inc({ queue, status: task.status }),
			],
			['loop:blocked', () => this.#blocked.inc({ queue })],
			['container:down', () => this.#outages.inc({ queue, part: 'container' })],
			['actuator:down', () => this.#outages.inc({ queue, part: 'actuator' })],
		];
		const on = s.on.bind(s) as (name: string, listener: (...args: never[]) => void) => unknown;
		const off = s.off.bind(s) as (name: string, listener: (...args: never[]) => void) => unknown;
		for (const [name, listener] of listeners) on(name, listener);
		this.#watched.set(queue, {
			scheduler: s,
			queue,
			cached: undefined,
			cachedAt: 0,
			reading: undefined,
		});
		return () => {
			for (const [name, listener] of listeners) off(name, listener);
			this.#watched.delete(queue);
		};
	}

	/** A scheduler's counts, cached for `countsCacheMs`; concurrent scrapes share one read. */
	#counts(w: Watched): Promise<TaskCounts> {
		if (w.cached !== undefined && Date.now() - w.cachedAt < this.#countsCacheMs) return Promise.resolve(w.cached);
		w.reading ??= w.scheduler.counts().then(
			(counts) => {
				w.cached = counts;
				w.cachedAt = Date.now();
				w.reading = undefined;
				return counts;
			},
			(error: unknown) => {
				w.reading = undefined;
				throw error;
			},
		);
		return w.reading;
	}
}
