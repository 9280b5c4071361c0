/**
 * `RedisContainer`: tasks in Redis, shared by any number of schedulers in any number of processes. Every state
 * change is one Lua script (atomic, one round trip); a pub/sub channel wakes sleeping schedulers.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'eventemitter3';
import type { Redis } from 'ioredis';
import {
	assertStorableTask,
	ContainerError,
	DuplicateTaskError,
	HeldTasks,
	LeaseExpiredError,
	SchedulerClosedError,
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
import { WakeChannel } from './redis/channel.js';
import { closeOwned, openConnection } from './redis/connection.js';
import { memoryPolicyWarning } from './redis/memory-policy.js';
import { CallGuard } from './redis/call-guard.js';
import {
	checkOptions,
	isWellFormed,
	type RedisContainerEvents,
	type RedisContainerOptions,
	type RedisContainerWarning,
} from './redis/options.js';

export type { RedisContainerEvents, RedisContainerOptions, RedisContainerWarning } from './redis/options.js';
export type { RateLimitOption } from './redis/rate-limit.js';
import { rateArgs } from './redis/rate-limit.js';
import { ADD_STEP_TASKS, addInSteps } from './redis/stepped-add.js';
import { OrphanWatch } from './redis/orphans.js';
import { decodeRecord, encodeForAdd } from './redis/codec.js';
import { ADD, CLAIM, UNREGISTER, type ClockedScript } from './redis/scripts.js';
import { NEXT_DUE, RECLAIM, RENEW } from './redis/lease-scripts.js';
import { HandOffLedger } from './redis/hand-off-ledger.js';
import { duplicateKey, RedisOperations } from './redis/operations.js';
import { DEFAULT_AHEAD_LEASE_MS, RedisTransitions } from './redis/transitions.js';
import { RedisChangeReader } from './redis/change-events.js';
import { redisScriptPort, type RedisScriptPort } from './redis/workflow-release.js';
import { RedisWorkflowStore } from './redis/workflow-store.js';

const RECLAIM_BATCH = 1000;
const [LEASE_MESSAGE_HEAD = '', LEASE_MESSAGE_TAIL = ''] = new LeaseExpiredError('\u0000').message.split('\u0000');

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
	/**
	 * The claim script's rate and group arguments (see redis/rate-limit.ts and redis/group-limit.ts), and whether
	 * either limit is set (no claim-ahead; the claim's reply starts with when to claim again).
	 */
	readonly #rateArgs: string[];
	readonly #rateLimited: boolean;
	/** The `handOff` option: short claims register their owner as idle, for adds to hand tasks to (idle-push.ts). */
	readonly #handOff: boolean;
	/**
	 * When the window of the last claim the rate limit cut short reopens, or when to claim again after one the
	 * group scan bound cut short (this process's clock), or null.
	 */
	#rateWakeAt: number | null = null;
	readonly #log: ((message: string) => void) | false;
	/** Whether `#log` is the default console.warn (replaced by the scheduler's `warning` event when attached). */
	readonly #logIsDefault: boolean;
	/** The scheduler this container is attached to, if any. */
	#reporter: PartReporter | undefined;
	/** Which variant of each script runs: judged by the server's clock, or by the caller's `now`. */
	readonly #serverClock: boolean;
	/** Bounds every call (connection down, no reply) and settles them at close; see call-guard.ts. */
	readonly #guard: CallGuard;
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
		checkOrphans: () => this.#orphans.check(),
	});
	/** Transitions, batched per tick, and the records they rebuild (transitions.ts). */
	readonly #transitions: RedisTransitions;
	/** Claims sent and not yet answered (see orphans.ts). */
	readonly #claims = new Set<Promise<unknown>>();
	/** Tasks held for an owner whose claim never reached this container: handed back (see orphans.ts). */
	readonly #orphans = new OrphanWatch({
		held: async (owner) => {
			const reply = (await this.#run(RENEW, [owner, String(Date.now()), '0'])) as string[][];
			return [reply[2] ?? [], reply[3] ?? [], reply[4] ?? []];
		},
		knows: (owner, id) =>
			this.#ahead.holds(owner, id) || this.#transitions.known.owns(owner, id)
				? true
				: this.#transitions.known.evicted
					? undefined
					: false,
		inFlight: () => this.#inFlight(),
		handBack: (id, owner, patch, version) => {
			// A hand-off of this task still on its way (the subscription was being renewed) must not run it now.
			this.#handOffs.disown(id);
			return this.#transitions.transition(id, 'running', 'waiting', patch, owner, version);
		},
		closed: () => this.#closed,
	});
	readonly #ahead = new HeldTasks((task, owner) =>
		this.transition(
			task.id,
			'running',
			'waiting',
			{ attempts: Math.max(0, task.attempts - 1), owner: null, leaseUntil: null, runAt: Date.now() },
			owner,
		).catch(() => null),
	);

	constructor(options: RedisContainerOptions) {
		super();
		const checked = checkOptions(options);
		this.#globalConcurrency = checked.globalConcurrency;
		this.#rateArgs = [...rateArgs(checked.rateLimit), ...rateArgs(checked.groupRateLimit)];
		this.#rateLimited = checked.rateLimit !== null || checked.groupRateLimit !== null;
		this.#handOff = checked.handOff;
		this.#log = checked.log;
		this.#logIsDefault = options.log === undefined;
		this.#serverClock = checked.serverClock;
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
			where: this.#guard.where,
			commandTimeoutMs: checked.commandTimeoutMs,
		});
		this.#transitions = new RedisTransitions(
			{
				run: (script, args) => this.#run(script, args),
				ahead: this.#ahead,
				mayClaimAhead: () => this.#globalConcurrency === 0 && !this.#closed && !this.#rateLimited,
				lostCall: () => this.#orphans.check(),
				closed: () => this.#closed,
				where: () => this.#guard.where,
			},
			randomUUID(),
		);
		this.#checked = this.#checkMemoryPolicy();
		// After a reconnection, calls whose reply was lost may have claimed tasks this container never saw.
		let wasReady = this.#redis.status === 'ready';
		this.#redis.on('ready', () => {
			if (wasReady) this.#orphans.check();
			wasReady = true;
		});
	}

	/** Resolves once the server's `maxmemory-policy` was checked (and the wake-up channel, if watched, is subscribed). */
	async ready(): Promise<void> {
		await this.#checked;
		const channel = this.#channel;
		if (channel === undefined || channel.up) return;
		// Bounded like every call: a server that cannot be reached rejects, it does not leave the caller waiting.
		const limit = this.#connectTimeoutMs;
		let timer: ReturnType<typeof setTimeout> | undefined;
		const gaveUp = new Promise<never>((_resolve, reject) => {
			timer = setTimeout(
				() =>
					reject(
						new ContainerError(
							`${this.#guard.where}: the wake-up channel was not subscribed within ${limit} ms`,
						),
					),
				limit,
			);
		});
		try {
			await Promise.race([channel.ready(), gaveUp]);
		} finally {
			clearTimeout(timer);
		}
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
		if (tasks.length === 0) return;
		const seen = new Set<string>();
		tasks.forEach((task, index) => {
			// Redis keys are UTF-8: a lone surrogate would be sent as U+FFFD, so two ids would name one task.
			assertStorableTask(task, index);
			if (seen.has(task.id)) throw new DuplicateTaskError(task.id, 'appears twice in one add');
			seen.add(task.id);
		});
		const encoded = tasks.flatMap(encodeForAdd);
		if (tasks.length > ADD_STEP_TASKS) {
			const runner = {
				run: (script: ClockedScript, args: readonly string[]) => this.#run(script, args),
				where: this.#guard.where,
			};
			const seqs = await addInSteps(runner, tasks, encoded, randomUUID());
			tasks.forEach((task, i) => (task.seq = seqs[i] ?? task.seq));
			return;
		}
		const args = [String(Date.now()), randomUUID()].concat(encoded);
		let reply: [string, string?, string?];
		this.#handOffs.addSent();
		try {
			reply = (await this.#run(ADD, args)) as [string, string?, string?];
			// Tasks handed to idle claimers (idle-push.ts): held now if one is this container's.
			let held = false;
			for (let i = tasks.length + 1; i < reply.length; i++)
				held = this.#handOffs.take(String(reply[i]), 'reply') || held;
			if (held) this.#channel?.wake();
		} finally {
			this.#handOffs.addAnswered();
		}
		if (reply[0] === 'dup')
			throw new DuplicateTaskError(
				reply[1] ?? '',
				reply[2] === 'reserved' ? 'is being added by another add in progress' : undefined,
			);
		if (reply[0] === 'dupkey') throw duplicateKey(reply);
		// The records are handed over (see TaskContainer.add): they get the seq the script gave them.
		tasks.forEach((task, i) => (task.seq = Number((reply as unknown[])[i + 1] ?? task.seq)));
	}

	async claim(max: number, owner: string, leaseMs: number, now: number): Promise<TaskRecord[]> {
		if (this.#closed || max <= 0) return [];
		if (!isWellFormed(owner))
			throw new TypeError(
				`Expected \`owner\` to be well-formed Unicode (no lone surrogate), got ${JSON.stringify(owner)}`,
			);
		// Tasks an add handed to this owner (idle-push.ts) start now, without a claim's round trip: nothing else was
		// waiting when they were handed over, and an add since then wakes us again.
		const pushed = this.#ahead.hasPushed(owner);
		const held = this.#ahead.take(owner, max);
		if (held.length === max || (pushed && held.length > 0)) return held;
		this.#orphans.noteOwner(owner);
		// Only while the channel is up (a hand-off travels on it), and with no limit the claim script judges.
		const register =
			this.#handOff && this.#globalConcurrency === 0 && !this.#rateLimited && this.#channel?.up === true;
		if (register) this.#handOffs.register(owner, leaseMs);
		const args = [
			String(max - held.length),
			owner,
			String(now),
			String(leaseMs),
			String(this.#globalConcurrency),
			...this.#rateArgs,
			register ? '1' : '0',
			register ? (this.#channel?.live ?? '') : '',
		];
		const call = this.#run(CLAIM, args).then(
			(reply) => {
				let packed = reply as string[];
				if (this.#rateLimited) {
					const reopensInMs = Number(packed[0]);
					// On this process's clock, late rather than early by the round trip (+1 ms of rounding).
					this.#rateWakeAt = !(reopensInMs >= 0)
						? null
						: (this.#serverClock ? Date.now() : now) + reopensInMs + 1;
					packed = packed.slice(1);
				}
				const claimed = held.concat(packed.map((one) => this.#transitions.claimed(one, owner)));
				this.#ahead.noteClaim(owner, leaseMs, max, claimed.length);
				return claimed;
			},
			(error: unknown) => {
				// Given up on (or failed): it may still be applied, or have been; its tasks would be orphans.
				void this.#ahead.handBackNow(held, owner);
				this.#orphans.check();
				throw error;
			},
		);
		this.#claims.add(call);
		const forget = (): void => void this.#claims.delete(call);
		call.then(forget, forget);
		return call;
	}

	/**
	 * Settles once every claim and transition batch in flight now was answered (and handled) or given up on, and
	 * every task handed over (idle-push.ts) before now reached this process.
	 */
	#inFlight(): Promise<unknown> {
		const fence = this.#handOffs.active ? this.#channel?.fence(this.#commandTimeoutMs) : undefined;
		if (this.#claims.size === 0 && fence === undefined) return this.#transitions.batch.answered();
		return Promise.all([
			this.#transitions.batch.answered(),
			fence,
			...[...this.#claims].map((call) => call.catch(() => null)),
		]);
	}

	transition(
		id: string,
		from: TaskStatus,
		to: TaskStatus,
		patch: TaskPatch,
		owner?: string,
	): Promise<TaskRecord | null> {
		return this.#transitions.transition(id, from, to, patch, owner);
	}

	/**
	 * Extends the leases of `ids`, and reports in `unknown` the tasks `owner` holds that are not among them, that
	 * this container handed out to it. Held tasks it never handed out (their claim's reply was lost) are handed back
	 * here at once, uncounted (see orphans.ts), and so are not reported; nor are those claimed ahead and held here.
	 */
	async renew(owner: string, ids: readonly string[], leaseMs: number, now: number): Promise<RenewResult> {
		if (!isWellFormed(owner)) return { lost: [...ids], stopRequested: [], unknown: [] };
		const sendable = ids.filter(isWellFormed);
		const reply = (await this.#run(RENEW, [owner, String(now), String(leaseMs), ...sendable])) as string[][];
		const [lost = [], stopRequested = [], held = [], attempts = [], versions = []] = reply;
		// Claims and transition batches (which claim ahead) sent before this renew were answered before it (one
		// connection, in order): once every one in flight now settled, the tasks they claimed are known here.
		await this.#inFlight();
		for (const id of ids) if (!isWellFormed(id)) lost.push(id);
		for (const id of lost) this.#transitions.known.forget(id);
		const unknown = this.#orphans
			.sort(owner, held, attempts, versions)
			.filter((id) => !this.#ahead.holds(owner, id));
		return { lost, stopRequested, unknown };
	}

	async reclaimExpired(now: number): Promise<TaskRecord[]> {
		const moved: TaskRecord[] = [];
		for (;;) {
			const args = [String(now), String(RECLAIM_BATCH), LEASE_MESSAGE_HEAD, LEASE_MESSAGE_TAIL];
			const reply = (await this.#run(RECLAIM, args)) as (string | null)[][];
			for (const flat of reply) moved.push(decodeRecord(flat));
			if (reply.length < RECLAIM_BATCH) return moved;
		}
	}

	requestStop(id: string): Promise<TaskRecord | null> {
		return this.#ops.requestStop(id);
	}

	async nextDueAt(now: number): Promise<number | null> {
		const reply = (await this.#run(NEXT_DUE, [String(now)])) as string | null;
		const due = reply === null ? null : Number(reply);
		// A claim the rate limit cut short: wake when its window reopens (see redis/rate-limit.ts).
		const open = this.#rateWakeAt;
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

	putRepeat(repeat: RepeatRecord): Promise<void> {
		return this.#ops.putRepeat(repeat);
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
			const subscriber = this.#makeSubscriber();
			subscriber.on('error', () => {});
			const keyPrefix = (this.#redis.options as { keyPrefix?: string } | undefined)?.keyPrefix ?? '';
			const channel = `${keyPrefix}${this.keyPrefix}events`;
			this.#channel = new WakeChannel(subscriber, channel, {
				take: (body) => this.#handOffs.take(body, 'message'),
				changed: (up) => this.#handOffs.channelChanged(up, this.#closed),
				// Adds hand tasks only to owners whose container still listens here (idle-push.ts).
				live: this.#handOff ? `${channel}:live:${randomUUID()}` : undefined,
			});
		}
		return this.#channel.add(listener);
	}

	/**
	 * Close the connections the container made (a given ioredis instance stays open). Every call still in flight
	 * settles: those waiting for a connection reject with `SchedulerClosedError` at once, those sent get their
	 * reply or reject (bounded by `commandTimeoutMs`). A second call does nothing.
	 */
	/** Task changes for followers in any process (see `TaskContainer.readChanges` and redis/change-events.ts). */
	async readChanges(query: TaskChangeQuery): Promise<TaskChangePage> {
		if (this.#closed) throw new SchedulerClosedError('container');
		return this.#changes.read(query);
	}

	async close(): Promise<void> {
		if (this.#closed) return;
		this.#closed = true;
		this.#handOffs.close();
		await this.#unregister();
		this.#channel?.close();
		this.#changes.close();
		this.#guard.closing();
		await this.#ahead.drain();
		await this.#transitions.batch.flush();
		try {
			if (this.#ownsConnection) await closeOwned(this.#redis);
		} finally {
			this.#guard.closeAll();
		}
	}

	/**
	 * Closing: adds stop handing tasks to this container's owners, and those handed over before reach it (a fence),
	 * to be handed back with the tasks claimed ahead. With the server unreachable, they wait for their leases.
	 */
	async #unregister(): Promise<void> {
		if (!this.#handOffs.active || this.#redis.status !== 'ready') return;
		try {
			await this.#run(UNREGISTER, this.#handOffs.owners());
			await this.#channel?.fence(this.#commandTimeoutMs);
		} catch {
			// Unreachable now: as above.
		}
	}

	async #checkMemoryPolicy(): Promise<void> {
		let answered = false;
		const read = async (): Promise<unknown> => {
			const reply = await this.#call('config get maxmemory-policy', () =>
				this.#redis.config('GET', 'maxmemory-policy'),
			);
			answered = true;
			return reply;
		};
		// No connection: checked once it comes (an unreachable server is not a policy problem, nor worth a warning).
		const unreachable = (): boolean => this.#closed || this.#redis.status !== 'ready';
		const warning = await memoryPolicyWarning(read, this.keyPrefix, unreachable);
		if (warning !== undefined) this.#warn(warning);
		else if (!answered && !this.#closed) this.#redis.once('ready', () => void this.#checkMemoryPolicy());
	}

	#warn(warning: RedisContainerWarning): void {
		this.emit('warning', warning);
		// Attached to a scheduler, the warning goes to its `warning` event instead of the default console.warn.
		if (this.#reporter !== undefined)
			this.#reporter.warning(new ContainerError(`${this.#guard.where}: ${warning.message}`));
		if (this.#log !== false && !(this.#reporter !== undefined && this.#logIsDefault)) this.#log(warning.message);
	}

	/** Send warnings to a scheduler's `warning` event (instead of the default console.warn) until detached. */
	attach(reporter: PartReporter): () => void {
		this.#reporter = reporter;
		return () => {
			if (this.#reporter === reporter) this.#reporter = undefined;
		};
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
		return { redis: this.#redis, keyPrefix: this.keyPrefix, run: (script, args) => this.#run(script, args) };
	}

	/** Run a script (the variant of the container's clock) by its SHA, loading it on NOSCRIPT (a new or restarted server). */
	#run(clocked: ClockedScript, args: readonly string[], scale = 1): Promise<unknown> {
		const script = this.#serverClock ? clocked.server : clocked.caller;
		return this.#call(
			script.name,
			async () => {
				// Arrays, not spread arguments: an add of 100,000 tasks has almost two million.
				const tail = ['1', this.keyPrefix].concat(args);
				try {
					return await this.#redis.call('EVALSHA', [script.sha].concat(tail));
				} catch (error) {
					if (!String((error as Error).message).startsWith('NOSCRIPT')) throw error;
					return await this.#redis.call('EVAL', [script.source].concat(tail));
				}
			},
			scale,
		);
	}
}

export { RedisWorkflowStore };
export type { RedisWorkflowStoreOptions } from './redis/workflow-store.js';
export { PartialAddError } from './redis/stepped-add.js';
