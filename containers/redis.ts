/**
 * `RedisContainer`: tasks in Redis, shared by any number of schedulers in any number of processes. Every state
 * change is one Lua script (atomic, one round trip); a pub/sub channel wakes sleeping schedulers.
 */
import { callToken } from './redis/call-token.js';
import { EventEmitter } from 'eventemitter3';
import type { Redis } from 'ioredis';
import {
	HeldTasks,
	SchedulerClosedError,
	type ClaimGuard,
	type CleanQuery,
	type ContainerSignal,
	type RepeatRecord,
	type TaskLogPage,
	type TaskLogQuery,
	type RenewResult,
	type PartReporter,
	type TaskContainer,
	type TaskCounts,
	type TaskPage,
	type TaskPatch,
	type TaskQuery,
	type TaskRecord,
	type TaskStatus,
	type TaskChangePage,
	type TaskChangeQuery,
	defaultWorkflowStore,
} from 'lightsched/kit';
import type { WorkflowStore } from '../src/workflow-store.js';
import { openWakeChannel, type WakeChannel } from './redis/channel.js';
import { closeOwned, openConnection } from './redis/connection.js';
import { openReplicatedAdds, type ReplicatedAdds } from './redis/replicated-adds.js';
import { checkMemoryPolicy } from './redis/memory-policy.js';
import { CallGuard } from './redis/call-guard.js';
import { checkOptions, type RedisContainerEvents, type RedisContainerOptions } from './redis/options.js';

export type {
	RedisContainerEvents,
	RedisContainerOptions,
	RedisContainerWarning,
	WaitForReplicasOption,
} from './redis/options.js';
export type { RateLimitOption } from './redis/rate-limit.js';
import { rateArgs } from './redis/rate-limit.js';
import { UNREGISTER } from './redis/scripts.js';
import { addTasks, type AddParts } from './redis/adds.js';
import { RedisClaims } from './redis/claims.js';
import { scriptRunner, type ScriptRun } from './redis/script-runner.js';
import { RedisWarnings } from './redis/warnings.js';
import { NEXT_DUE, reclaimExpired } from './redis/lease-scripts.js';
import { LeaseRenewal } from './redis/lease-renewal.js';
import { HandOffLedger } from './redis/hand-off-ledger.js';
import { RedisOperations } from './redis/operations.js';
import { DEFAULT_AHEAD_LEASE_MS, RedisTransitions } from './redis/transitions.js';
import { RedisChangeReader } from './redis/change-events.js';
import { redisScriptPort, type RedisScriptPort } from './redis/workflow-release.js';
import { RedisWorkflowStore } from './redis/workflow-store.js';

/**
 * Tasks in Redis: waiting tasks in a sorted set by priority then arrival, delayed ones by `runAt`, running ones
 * by lease deadline, records in hashes. `shared`: any number of schedulers may use the same container (same
 * Redis, same `name`); each claims with a lease and a dead scheduler's tasks are taken over when it lapses.
 */
export class RedisContainer extends EventEmitter<RedisContainerEvents> implements TaskContainer {
	readonly shared = true;
	/** The prefix of every key of this container, such as `lightsched:{video}:`. */
	readonly keyPrefix: string;
	readonly #redis: Redis;
	readonly #ownsConnection: boolean;
	readonly #makeSubscriber: () => Redis;
	readonly #globalConcurrency: number;
	/** The `handOff` option: short claims register their owner as idle, for adds to hand tasks to (idle-push.ts). */
	readonly #handOff: boolean;
	/** Bounds every call (connection down, no reply) and settles them at close; see call-guard.ts. */
	readonly #guard: CallGuard;
	/** Runs a script, bounded (script-runner.ts). */
	readonly #run: ScriptRun;
	/** The container's warnings, to its event, its log, the scheduler it is attached to (warnings.ts). */
	readonly #warnings: RedisWarnings;
	/** Claims: held tasks first, then the claim script (claims.ts). */
	readonly #claiming: RedisClaims;
	/** Lease renewal, the fence behind it and the orphan watch (lease-renewal.ts). */
	readonly #renewal: LeaseRenewal;
	/** What an add needs of this container (adds.ts), made once. */
	readonly #addParts: AddParts;
	/** `waitForReplicas`: the adds' own connection (replicated-adds.ts). */
	readonly #replicatedAdds: ReplicatedAdds | undefined;
	readonly #checked: Promise<void>;
	readonly #connectTimeoutMs: number;
	readonly #commandTimeoutMs: number;
	#channel: WakeChannel | undefined;
	/** `readChanges` (change-events.ts). */
	readonly #changes: RedisChangeReader;
	#closed = false;
	/** Reads, operator calls, logs and repeats (operations.ts). */
	readonly #ops: RedisOperations;
	/** The hand-off to idle claimers (idle-push.ts): registered owners, tasks handed over, hand-backs. */
	readonly #handOffs = new HandOffLedger({
		decode: (packed, owner) => this.#transitions.claimed(packed, owner),
		hold: (owner, record, leaseMs) => this.#ahead.hold(owner, [record], leaseMs ?? DEFAULT_AHEAD_LEASE_MS, true),
		checkOrphans: () => this.#renewal.orphans.check(),
	});
	/** Transitions, batched per tick, and the records they rebuild (transitions.ts). */
	readonly #transitions: RedisTransitions;
	readonly #ahead = new HeldTasks((task, owner) =>
		this.transition(
			task.id,
			'running',
			'waiting',
			{ attempts: Math.max(0, task.attempts - 1), owner: null, leaseUntil: null, runAt: Date.now() },
			owner,
			task,
		).catch(() => null),
	);

	constructor(options: RedisContainerOptions) {
		super();
		const checked = checkOptions(options);
		this.#globalConcurrency = checked.globalConcurrency;
		const rateLimited = checked.rateLimit !== null || checked.groupRateLimit !== null;
		this.#handOff = checked.handOff;
		this.keyPrefix = `${checked.prefix}:{${checked.name}}:`;
		const connection = openConnection(options.redis);
		this.#redis = connection.redis;
		this.#ownsConnection = connection.owned;
		this.#makeSubscriber = connection.makeSubscriber;
		this.#guard = new CallGuard(this.#redis, {
			label: `RedisContainer \`${this.keyPrefix}\``,
			connectTimeoutMs: checked.connectTimeoutMs,
			commandTimeoutMs: checked.commandTimeoutMs,
			owned: connection.owned,
		});
		this.#run = scriptRunner(this.#redis, this.#guard, this.keyPrefix, checked.serverClock);
		this.#warnings = new RedisWarnings({
			emit: (warning) => this.emit('warning', warning),
			log: checked.log,
			logIsDefault: options.log === undefined,
			where: () => this.#guard.where,
		});
		this.#ops = new RedisOperations({
			redis: this.#redis,
			keyPrefix: this.keyPrefix,
			run: (script, args, scale) => this.#run(script, args, scale),
			call: (what, command) => this.#call(what, command),
			closed: () => this.#closed,
		});
		this.#connectTimeoutMs = checked.connectTimeoutMs;
		this.#commandTimeoutMs = checked.commandTimeoutMs;
		this.#changes = new RedisChangeReader({
			run: (script, args) => this.#run(script, args),
			connect: connection.makeSubscriber,
			key: `${this.keyPrefix}changes`,
			where: () => this.#guard.where,
			commandTimeoutMs: checked.commandTimeoutMs,
		});
		this.#transitions = new RedisTransitions(
			{
				run: (script, args) => this.#run(script, args),
				ahead: this.#ahead,
				mayClaimAhead: () => this.#globalConcurrency === 0 && !this.#closed && !rateLimited,
				lostCall: () => this.#renewal.orphans.check(),
				closed: () => this.#closed,
				where: () => this.#guard.where,
			},
			callToken(),
		);
		this.#renewal = new LeaseRenewal({
			run: this.#run,
			ahead: this.#ahead,
			transitions: this.#transitions,
			claiming: () => this.#claiming,
			handOffs: this.#handOffs,
			channel: () => this.#channel,
			commandTimeoutMs: checked.commandTimeoutMs,
			closed: () => this.#closed,
		});
		const replicas = checked.waitForReplicas;
		this.#replicatedAdds =
			replicas === null
				? undefined
				: openReplicatedAdds(connection.makeDuplicate, replicas, checked, this.keyPrefix);
		this.#addParts = {
			run: this.#replicatedAdds?.run ?? this.#run,
			handOffs: this.#handOffs,
			where: () => this.#guard.where,
			wake: () => this.#channel?.wake(),
			confirm: this.#replicatedAdds?.confirm,
		};
		this.#claiming = new RedisClaims({
			run: this.#run,
			ahead: this.#ahead,
			orphans: this.#renewal.orphans,
			handOffs: this.#handOffs,
			transitions: this.#transitions,
			channel: () => this.#channel,
			closed: () => this.#closed,
			handOff: checked.handOff,
			globalConcurrency: checked.globalConcurrency,
			rateArgs: [...rateArgs(checked.rateLimit), ...rateArgs(checked.groupRateLimit)],
			rateLimited,
			serverClock: checked.serverClock,
		});
		this.#checked = checkMemoryPolicy(
			this.#redis,
			this.#guard,
			this.keyPrefix,
			() => this.#closed,
			(warning) => this.#warnings.warn(warning),
		);
		// After a reconnection, calls whose reply was lost may have claimed tasks this container never saw.
		let wasReady = this.#redis.status === 'ready';
		this.#redis.on('ready', () => {
			if (wasReady) this.#renewal.orphans.check();
			wasReady = true;
		});
	}

	/** Resolves once the server's `maxmemory-policy` was checked (and the wake-up channel, if watched, is subscribed). */
	async ready(): Promise<void> {
		await this.#checked;
		await this.#channel?.ready(this.#connectTimeoutMs, this.#guard.where);
	}

	/**
	 * Store new tasks as `waiting` (see `TaskContainer.add`). Up to `ADD_STEP_TASKS` (500) tasks: one script, all or
	 * nothing. More: in steps of short scripts, so Redis keeps answering every other client (one script for 100,000
	 * tasks held it for seconds): first every id and key is checked and reserved against other adds, then the tasks
	 * are written 500 per script, each step visible (claimable) once written. A refused id or key
	 * (`DuplicateTaskError`, `DuplicateKeyError`) or a failure while reserving stores nothing. A failure while
	 * writing (the connection lost, a step's reply overdue, `close()`) rejects with `PartialAddError`: its
	 * `storedIds` are stored, its `unsureIds` (the step in flight) all or none, the rest not. See
	 * containers/redis/stepped-add.ts.
	 */
	async add(tasks: readonly TaskRecord[]): Promise<void> {
		if (this.#closed) throw new SchedulerClosedError('container');
		await addTasks(this.#addParts, tasks);
	}

	claim(max: number, owner: string, leaseMs: number, now: number): Promise<TaskRecord[]> {
		return this.#claiming.claim(max, owner, leaseMs, now);
	}

	transition(
		id: string,
		from: TaskStatus,
		to: TaskStatus,
		patch: TaskPatch,
		owner?: string,
		claim?: ClaimGuard,
	): Promise<TaskRecord | null> {
		return this.#transitions.transition(id, from, to, patch, owner, undefined, claim);
	}

	/**
	 * Extends the leases of `ids`, and reports in `unknown` the tasks `owner` holds that are not among them, that
	 * this container handed out to it. Held tasks it never handed out (their claim's reply was lost) are handed back
	 * here at once, uncounted (see orphans.ts), and so are not reported; nor are those claimed ahead and held here.
	 */
	renew(owner: string, ids: readonly string[], leaseMs: number, now: number): Promise<RenewResult> {
		return this.#renewal.renew(owner, ids, leaseMs, now);
	}

	reclaimExpired(now: number): Promise<TaskRecord[]> {
		return reclaimExpired(this.#run, now);
	}

	requestStop(id: string): Promise<TaskRecord | null> {
		return this.#ops.requestStop(id);
	}

	async nextDueAt(now: number): Promise<number | null> {
		const reply = (await this.#run(NEXT_DUE, [String(now)])) as string | null;
		const due = reply === null ? null : Number(reply);
		// A claim the rate limit cut short: wake when its window reopens (see redis/rate-limit.ts).
		const open = this.#claiming.rateWakeAt;
		return open === null ? due : due === null ? open : Math.min(due, open);
	}

	get(id: string): Promise<TaskRecord | null> {
		return this.#ops.get(id);
	}

	list(query: TaskQuery = {}): Promise<TaskPage> {
		return this.#ops.list(query);
	}

	counts(): Promise<TaskCounts> {
		return this.#ops.counts();
	}

	remove(id: string): Promise<boolean> {
		return this.#ops.remove(id);
	}

	setPaused(paused: boolean): Promise<void> {
		return this.#ops.setPaused(paused);
	}

	isPaused(): Promise<boolean> {
		return this.#ops.isPaused();
	}

	clean(query: CleanQuery): Promise<string[]> {
		return this.#ops.clean(query);
	}

	appendLogs(id: string, lines: readonly string[], maxLines: number): Promise<void> {
		return this.#ops.appendLogs(id, lines, maxLines);
	}

	getLogs(id: string, query: TaskLogQuery = {}): Promise<TaskLogPage> {
		return this.#ops.getLogs(id, query);
	}

	putRepeat(repeat: RepeatRecord, expected: RepeatRecord | null): Promise<boolean> {
		return this.#ops.putRepeat(repeat, expected);
	}

	getRepeat(key: string): Promise<RepeatRecord | null> {
		return this.#ops.getRepeat(key);
	}

	listRepeats(): Promise<RepeatRecord[]> {
		return this.#ops.listRepeats();
	}

	removeRepeat(key: string): Promise<boolean> {
		return this.#ops.removeRepeat(key);
	}

	advanceRepeat(key: string, expected: number, next: number | null, task: TaskRecord | null): Promise<boolean> {
		return this.#ops.advanceRepeat(key, expected, next, task);
	}

	/**
	 * Hear of new claimable tasks (`wake`) and stop requests (`stop`) from every process, over Redis pub/sub. While
	 * the subscriber connection is down, listeners get `{ type: 'channel', ok: false, error }` (schedulers then
	 * poll) and `{ type: 'channel', ok: true }` once it is subscribed again.
	 */
	watch(listener: (signal: ContainerSignal) => void): () => void {
		if (this.#closed) return () => {};
		if (this.#channel === undefined) {
			this.#channel = openWakeChannel(this.#redis, this.#makeSubscriber(), this.keyPrefix, {
				take: (body) => this.#handOffs.take(body, 'message'),
				changed: (up) => this.#handOffs.channelChanged(up, this.#closed),
				// Adds hand tasks only to owners whose container still listens here (idle-push.ts).
				live: this.#handOff,
				// A silent subscriber (open, passing nothing) is found by a PING bounded as a call's reply is.
				replyTimeoutMs: this.#commandTimeoutMs,
			});
		}
		return this.#channel.add(listener);
	}

	/** Task changes for followers in any process (see `TaskContainer.readChanges` and redis/change-events.ts). */
	async readChanges(query: TaskChangeQuery): Promise<TaskChangePage> {
		if (this.#closed) throw new SchedulerClosedError('container');
		return this.#changes.read(query);
	}

	/**
	 * Close the connections the container made (a given ioredis instance stays open). Every call still in flight
	 * settles: those waiting for a connection reject with `SchedulerClosedError` at once, those sent get their
	 * reply or reject (bounded by `commandTimeoutMs`). A second call does nothing.
	 */
	async close(): Promise<void> {
		if (this.#closed) return;
		this.#closed = true;
		await this.#handOffs.close(
			this.#redis.status === 'ready',
			(owners) => this.#run(UNREGISTER, owners),
			() => this.#channel?.fence(this.#commandTimeoutMs),
		);
		this.#channel?.close();
		this.#changes.close();
		this.#guard.closing();
		this.#replicatedAdds?.closing();
		await this.#ahead.drain();
		await this.#transitions.batch.flush();
		try {
			await this.#replicatedAdds?.close();
			if (this.#ownsConnection) await closeOwned(this.#redis);
		} finally {
			this.#replicatedAdds?.closeAll();
			this.#guard.closeAll();
		}
	}

	/** Send warnings to a scheduler's `warning` event (instead of the default console.warn) until detached. */
	attach(reporter: PartReporter): () => void {
		return this.#warnings.attach(reporter);
	}

	/** One bounded call (see call-guard.ts); its failures are `ContainerError`s naming the container and the server. */
	#call<T>(what: string, command: () => Promise<T>, scale = 1): Promise<T> {
		return this.#guard.run(what, command, scale);
	}

	/** `lightsched/kit`: `new Workflows({ scheduler })` on this container keeps its runs here (see `WorkflowStoreSource`). */
	[defaultWorkflowStore](): WorkflowStore {
		return new RedisWorkflowStore({ container: this });
	}

	/**
	 * For a `RedisWorkflowStore` on this connection: a step release runs in this container's scripts
	 * (redis/workflow-release.ts). Not part of the public API.
	 * @internal
	 */
	[redisScriptPort](): RedisScriptPort {
		return {
			redis: this.#redis,
			keyPrefix: this.keyPrefix,
			run: (script, args) => this.#run(script, args),
			replicated: this.#replicatedAdds,
		};
	}
}

export { RedisWorkflowStore };
export type { RedisWorkflowStoreOptions } from './redis/workflow-store.js';
export { PartialAddError } from './redis/stepped-add.js';
export { UnreplicatedAddError } from './redis/replicated-adds.js';
