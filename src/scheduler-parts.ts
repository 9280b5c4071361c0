/**
 * The scheduler's parts, wired to each other: the reporter and health trackers, the writer, the lease keeper (shared
 * containers), the claim loop, the attempt runner, the adder, the hand-back of unknown claims and the idle watch.
 * The `Scheduler` makes them once, in its constructor, and keeps what this returns; what they need of the scheduler
 * itself (whether it is closed or paused, its `waitFor` feed, its event emitter) comes through `SchedulerHooks`.
 */
import type { EventEmitter } from 'eventemitter3';
import { AttemptRunner } from './attempt-runner.js';
import { ClaimLoop } from './claim-loop.js';
import type { Persistencer, TaskActuator } from './contracts.js';
import type { SchedulerEvents } from './events.js';
import { IdleWatch } from './idle-watch.js';
import { LeaseKeeper } from './lease-keeper.js';
import { LoopMonitor } from './loop-monitor.js';
import type { ResolvedSchedulerOptions } from './options.js';
import { OutageTracker } from './outage-tracker.js';
import { deleteExpired } from './queue-operations.js';
import { Reporter } from './reporter.js';
import { reportFailure, type SchedulerCore } from './scheduler-core.js';
import type { TaskRecord } from './task.js';
import { TaskAdder } from './task-adder.js';
import { TaskWriter } from './task-writer.js';
import { UnknownHandBack } from './unknown-hand-back.js';
import { WakeTimers } from './wake-timers.js';
import type { WaitForFeed } from './wait-for-feed.js';
import { ZeroRetentionDeleter } from './zero-retention.js';

/** What the parts need of the scheduler that owns them. */
export interface SchedulerHooks<TItem, TOutput> {
	/** The scheduler, as the emitter of its events. */
	readonly emitter: EventEmitter<SchedulerEvents<TItem, TOutput>>;
	readonly closed: () => boolean;
	readonly paused: () => boolean;
	/** `waitFor`'s change follower, while open. */
	readonly waitFor: () => WaitForFeed | undefined;
	/** A lease sweep moved tasks. */
	readonly reclaimed: (tasks: TaskRecord<TItem, TOutput>[]) => void;
	/** The event loop was blocked for so long (shared containers). */
	readonly blocked: (blockedMs: number) => void;
	/** Whether anyone listens to `idle`. */
	readonly idleListened: () => boolean;
	/** Keeps a call in flight until it settles (settled at close). */
	readonly track: <T>(promise: Promise<T>) => Promise<T>;
}

/** The wired parts (see the top of this file). */
export interface SchedulerParts<TItem, TOutput> {
	readonly core: SchedulerCore<TItem, TOutput>;
	readonly runner: AttemptRunner<TItem, TOutput>;
	readonly claims: ClaimLoop<TItem, TOutput>;
	readonly adder: TaskAdder<TItem, TOutput>;
	readonly unknown: UnknownHandBack;
	readonly idle: IdleWatch;
	/** Deletes the tasks this scheduler finished whose own rule keeps them 0 ms (containers with `clean`). */
	readonly zeroRetention: ZeroRetentionDeleter | undefined;
}

export function wireScheduler<TItem, TOutput>(
	resolved: ResolvedSchedulerOptions<TItem, TOutput>,
	id: string,
	hooks: SchedulerHooks<TItem, TOutput>,
): SchedulerParts<TItem, TOutput> {
	const { container, actuator, leaseMs } = resolved;
	const emitter = hooks.emitter;
	// The callbacks below name parts made further down: they run only once all exist.
	// Tasks kept 0 ms after finishing are deleted by this scheduler once it has reported them (see zero-retention.ts).
	const zero =
		typeof container.clean === 'function'
			? new ZeroRetentionDeleter(
					(status, ids) => deleteExpired(core as SchedulerCore, status, ids),
					(ids) => hooks.waitFor()?.settled(ids) ?? Promise.resolve(),
				)
			: undefined;
	const reporter = new Reporter<TItem, TOutput>(
		emitter,
		resolved.callback,
		zero === undefined ? undefined : (task) => zero.finished(task),
	);
	const health = (part: 'container' | 'actuator'): OutageTracker =>
		new OutageTracker(part, {
			down: (event) => reporter.emit(`${part}:down`, event),
			up: (event) => reporter.emit(`${part}:up`, event),
		});
	const shared = container.shared;
	// The callbacks run later, once `core` and the parts exist.
	const leases = shared
		? new LeaseKeeper(container, id, leaseMs, {
				heldIds: () =>
					unknown.size === 0 ? runner.heldIds() : [...new Set([...runner.heldIds(), ...unknown.ids()])],
				mark: () => runner.startedCount(),
				lost: (id, mark) => runner.lostSince(id, mark),
				stopRequested: (id) => runner.settleById(id, { kind: 'stopped' }),
				reclaimed: (tasks) => hooks.reclaimed(tasks as TaskRecord<TItem, TOutput>[]),
				unknown: (ids) => {
					runner.keepUnstored(ids);
					unknown.found(ids);
				},
				claims: () => claims.claims(),
				failed: (operation, error, calledAt) =>
					reportFailure(core as SchedulerCore, 'container', operation, error, calledAt),
				ok: (calledAt) => core.containerHealth.ok(calledAt),
			})
		: undefined;
	const core: SchedulerCore<TItem, TOutput> = {
		options: resolved,
		id: id,
		reporter,
		writer: new TaskWriter({
			container,
			actuator: actuator as TaskActuator,
			persistencer: resolved.persistencer as Persistencer | undefined,
			backoff: resolved.backoff,
			owner: id,
			report: (error, context) => reporter.error(error, context),
			writeFailed: (operation, error) => reportFailure(core as SchedulerCore, 'container', operation, error),
			closing: () => hooks.closed(),
		}),
		timers: new WakeTimers(() => claims.fill(), resolved.pollIntervalMs),
		containerHealth: health('container'),
		actuatorHealth: health('actuator'),
		leases,
		// Blocks of a third of the lease are reported: a renewal was missed; two thirds can lose the lease.
		loopMonitor: shared
			? new LoopMonitor(Math.min(500, Math.floor(leaseMs / 10)), Math.floor(leaseMs / 3), (block) =>
					hooks.blocked(block.blockedMs),
				)
			: undefined,
		closed: () => hooks.closed(),
		paused: () => hooks.paused(),
	};
	const runner = new AttemptRunner(core, (now) => claims.slotFreed(now));
	const adder = new TaskAdder(core, {
		fill: () => claims.fill(),
		fence: () => claims.fence(),
		track: (promise) => hooks.track(promise),
	});
	const claims = new ClaimLoop(core, {
		beforeClaim: () => adder.announceAdded(),
		running: () => runner.size,
		taken: () => runner.taken,
		start: (task) => runner.start(task),
		checkIdle: () => idle.check(),
	});
	const unknown = new UnknownHandBack({
		container,
		owner: id,
		holds: (id) => runner.get(id) !== undefined,
		ranUnstored: (id) => runner.ranUnstored(id),
		fence: () => claims.fence(),
		handBack: (task) => core.writer.handBack(task),
		renewing: () => leases?.renewing(),
		idle: () => leases?.idle(),
		recheck: () => leases?.recheck(),
		failed: (id, error, final) => {
			if (final)
				reporter.error(
					error,
					`handing back task ${id} (claimed, its reply lost) failed; a later renewal tries again`,
				);
			else
				reportFailure(
					core as SchedulerCore,
					'container',
					'handing back a task claimed with its reply lost',
					error,
				);
		},
		closed: () => hooks.closed(),
	});
	const idle = new IdleWatch(
		core as SchedulerCore,
		() => runner.size,
		() => hooks.idleListened(),
	);
	return { core, runner, claims, adder, unknown, idle, zeroRetention: zero };
}
