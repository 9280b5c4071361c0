/**
 * `RedisWorkflowStore`: workflow runs in Redis, shared by every process on the server, so one process finishes the
 * runs another began. Its keys live under the same prefix as a `RedisContainer` with the same `redis`, `name` and
 * `prefix` (`lightsched:{name}:wf:…`, one Redis Cluster hash slot with the container's tasks). Every change is one
 * Lua script (workflow-scripts.ts): `update` compares and sets `rev`, a unique key is taken in the same script as
 * the write, and sorted-set indexes (by definition, status, key, open) serve `list` and `open` without a scan.
 *
 * Calls are bounded as the container's are (call-guard.ts): while the server cannot be reached a call waits for
 * a connection at most `connectTimeoutMs` and then rejects with a `ContainerError` naming the server; a call sent
 * waits for its reply at most `commandTimeoutMs`. Pass the ioredis instance the container was given to share
 * its connection (the store then leaves it open at `close()`); a URL or ioredis options open one the store owns.
 */
import { callToken } from './call-token.js';
import type { Redis, RedisOptions } from 'ioredis';
import { ContainerError, SchedulerClosedError } from 'lightsched';
import {
	assertStorableTask,
	describeValue,
	DuplicateKeyError,
	DuplicateTaskError,
	rejectUnknownOptions,
	withTaskRelease,
	type TaskContainer,
	type TaskRecord,
} from 'lightsched/kit';
import {
	isFinalRunStatus,
	type ReleasingUpdate,
	type ReleasingWorkflowStore,
	type RunPage,
	type RunQuery,
	type RunRecord,
	type RunStatus,
	type StoredDefinition,
	type WorkflowStore,
} from '../../src/workflow-store.js';
import { DuplicateRunError, RunStateError } from '../../workflows/errors.js';
import { keyConflictMessage } from '../../workflows/memory-store.js';
import { CallGuard } from './call-guard.js';
import { closeOwned, openConnection } from './connection.js';
import { encodeAllForAdd, flatten } from './codec.js';
import { checkName, isWellFormed } from './options.js';
import { TransitionBatch } from './transition-batch.js';
import { RunWrites } from './run-writes.js';
import { RELEASE_RUNS, scriptPortOf } from './workflow-release.js';
import { LIST_RUNS, OPEN_RUNS, PUT_DEFINITION, REMOVE_RUN, type WorkflowScript } from './workflow-scripts.js';
import { checkText, decodeRuns, runArgs } from './run-codec.js';
import { listRunsArgs } from './run-query.js';
import { sendScript } from './script-runner.js';
import { unconfirmedCreate, type ReplicatedWrites } from './replicated-adds.js';

/**
 * What `new RedisWorkflowStore(options)` takes: the `RedisContainer` whose connection and keys it shares
 * (`{ container }`), or the same `redis`, `name` and `prefix` as the container.
 */
export interface RedisWorkflowStoreOptions {
	/**
	 * The `RedisContainer` the runs' steps run in: the store uses its connection and key prefix (no `redis`, `name`
	 * or `prefix` then). A step end then writes its run and adds the next steps' tasks in one script (see
	 * `withTaskRelease` in `lightsched/kit`), as it does when `redis` is the ioredis instance the container was given.
	 */
	readonly container?: TaskContainer;
	/**
	 * The Redis server: a `redis://` URL or ioredis options (the store opens and closes a connection of its own,
	 * which finds a server that is back as the container's do), or an ioredis instance, such as the one given to
	 * the container (shared; left open at `close()`). Required without `container`.
	 */
	readonly redis?: string | RedisOptions | Redis;
	/**
	 * The container's name: runs live under `<prefix>:{<name>}:wf:`. Processes that share runs use the same name.
	 * Required without `container`.
	 */
	readonly name?: string;
	/**
	 * The first part of every key, as the container's.
	 * @default 'lightsched'
	 */
	readonly prefix?: string;
	/**
	 * How long a call waits for a connection that is down before it rejects with a `ContainerError`.
	 * @default 5000
	 */
	readonly connectTimeoutMs?: number;
	/**
	 * How long a call sent waits for its reply before it rejects with a `ContainerError`.
	 * @default 10000
	 */
	readonly commandTimeoutMs?: number;
}

/** The most releases in one script call, and the most such calls awaiting their reply (as the container's transitions). */
const MAX_RELEASES = 25;
const MAX_RELEASES_IN_FLIGHT = 4;

const OPTION_NAMES = ['container', 'redis', 'name', 'prefix', 'connectTimeoutMs', 'commandTimeoutMs'] as const;

function checkMs(field: string, value: unknown, fallback: number): number {
	if (value === undefined) return fallback;
	if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1)
		throw new TypeError(
			`Expected \`${field}\` to be an integer number of milliseconds >= 1, got ${describeValue(value)}`,
		);
	return value;
}

/** Workflow runs in Redis, shared between processes. */
export class RedisWorkflowStore implements WorkflowStore, ReleasingWorkflowStore {
	/** Shared: every process on the server (same `name` and `prefix`) sees the same runs. */
	readonly shared = true;
	/** The prefix of every key of the store, such as `lightsched:{video}:` (its own keys continue with `wf:`). */
	readonly keyPrefix: string;
	readonly #redis: Redis;
	readonly #owned: boolean;
	readonly #guard: CallGuard;
	/** Creates and updates of the same tick, one script call each (run-writes.ts). */
	readonly #writes: RunWrites;
	/**
	 * On a container with `waitForReplicas`: creates go on its adds' connection (`port`), each confirmed by the
	 * replicas (replicated-adds.ts).
	 */
	readonly #replicated: { writes: RunWrites; port: ReplicatedWrites } | undefined;
	/** The token of each run record whose create rejected with `RunOutcomeUnknownError`, for the start sent again. */
	readonly #createTokens = new WeakMap<RunRecord, string>();
	#closed = false;

	constructor(options: RedisWorkflowStoreOptions) {
		if (typeof options !== 'object' || options === null)
			throw new TypeError(
				`Expected RedisWorkflowStore options to be an object like { redis, name }, got ${describeValue(options)}`,
			);
		rejectUnknownOptions('RedisWorkflowStore', options, OPTION_NAMES);
		const connectTimeoutMs = checkMs('connectTimeoutMs', options.connectTimeoutMs, 5000);
		const commandTimeoutMs = checkMs('commandTimeoutMs', options.commandTimeoutMs, 10_000);
		let connection: { redis: Redis; owned: boolean };
		if (options.container !== undefined) {
			const port = scriptPortOf(options.container);
			if (port === null)
				throw new TypeError(
					`Expected \`container\` to be a RedisContainer, got ${describeValue(options.container)}`,
				);
			for (const field of ['redis', 'name', 'prefix'] as const)
				if (options[field] !== undefined)
					throw new TypeError(
						`Expected \`${field}\` to be left out with \`container\` (the store uses the container's), got ${describeValue(options[field])}`,
					);
			this.keyPrefix = port.keyPrefix;
			connection = { redis: port.redis, owned: false };
		} else {
			const name = checkName('name', options.name);
			const prefix = checkName('prefix', options.prefix ?? 'lightsched');
			this.keyPrefix = `${prefix}:{${name}}:`;
			if (options.redis === undefined)
				throw new TypeError(
					'Expected `redis` (a URL, ioredis options or instance) or `container`, got neither',
				);
			connection = openConnection(options.redis);
		}
		this.#redis = connection.redis;
		this.#owned = connection.owned;
		this.#guard = new CallGuard(this.#redis, {
			label: `RedisWorkflowStore \`${this.keyPrefix}\``,
			connectTimeoutMs,
			commandTimeoutMs,
			owned: connection.owned,
		});
		this.#writes = new RunWrites(
			(script, args) => this.#call(script, args),
			() => this.#guard.where,
		);
		const port = options.container === undefined ? undefined : scriptPortOf(options.container)?.replicated;
		if (port !== undefined) {
			const { keyPrefix } = this;
			this.#replicated = {
				port,
				writes: new RunWrites(
					(script, args) => port.call(script.name, (redis) => sendScript(redis, keyPrefix, script, args)),
					() => this.#guard.where,
				),
			};
		}
	}

	async putDefinition(definition: StoredDefinition): Promise<StoredDefinition> {
		const body = (await this.#run(PUT_DEFINITION, [
			`${definition.version}:${definition.name}`,
			JSON.stringify(definition.body),
		])) as string;
		return { name: definition.name, version: definition.version, body: JSON.parse(body) as unknown };
	}

	async getDefinition(name: string, version: number): Promise<StoredDefinition | null> {
		this.#open();
		const body = await this.#guard.run('workflow getDefinition', () =>
			this.#redis.hget(`${this.keyPrefix}wf:defs`, `${version}:${name}`),
		);
		return body === null ? null : { name, version, body: JSON.parse(body) as unknown };
	}

	async create(run: RunRecord): Promise<void> {
		this.#open();
		checkText('id', run.id);
		checkText('definition', run.definition);
		if (run.key !== null) checkText('key', run.key);
		// A start tried again after `RunOutcomeUnknownError` sends the same record with the same token: a run stored by
		// that create is answered as created.
		const token = this.#createTokens.get(run) ?? callToken();
		const reply = await (this.#replicated?.writes ?? this.#writes).create(runArgs(run, token));
		if (reply[0] === 'dup') throw new DuplicateRunError(`A workflow run with id \`${run.id}\` exists`);
		if (reply[0] === 'dupkey')
			throw new DuplicateRunError(keyConflictMessage(run.key as string, reply[1] ?? ''), run.key as string);
		const unsure = this.#replicated && (await unconfirmedCreate(run.id, this.#replicated.port));
		if (unsure === undefined) return;
		this.#createTokens.set(run, token);
		throw unsure;
	}

	async get(id: string): Promise<RunRecord | null> {
		this.#open();
		if (!isWellFormed(id)) return null;
		const [body, rev] = await this.#guard.run('workflow get', () =>
			this.#redis.hmget(`${this.keyPrefix}wf:r:${id}`, 'body', 'rev'),
		);
		return decodeRuns([body ?? null, rev ?? null])[0] ?? null;
	}

	async update(run: RunRecord): Promise<RunRecord | null> {
		this.#open();
		if (!isWellFormed(run.id)) return null;
		checkText('definition', run.definition);
		if (run.key !== null) checkText('key', run.key);
		const next: RunRecord = { ...run, rev: run.rev + 1 };
		const reply = await this.#writes.update([String(run.rev), ...runArgs(next)]);
		if (reply[0] === 'stale') return null;
		if (reply[0] === 'dupkey')
			throw new DuplicateRunError(keyConflictMessage(run.key as string, reply[1] ?? ''), run.key as string);
		// Not parsed back from what was sent: `next` shares its values with `run` (see `WorkflowStore.update`).
		return next;
	}

	/**
	 * `lightsched/kit` (see `ReleasingWorkflowStore`): with the `RedisContainer` whose connection and key prefix
	 * this store shares (`{ container }`, or its ioredis instance as `redis` and its `name`), a run's
	 * compare-and-set write and the add of the step tasks it releases are one script (workflow-release.ts): both
	 * stored or neither. `null` for any other container.
	 */
	[withTaskRelease](container: TaskContainer): ReleasingUpdate | null {
		const port = scriptPortOf(container);
		if (port === null || port.redis !== this.#redis || port.keyPrefix !== this.keyPrefix) return null;
		// Releases issued in the same tick (step ends of several runs) go as one script call, each its own
		// compare-and-set and add (see transition-batch.ts): one round trip and one script run for a burst.
		const batch = new TransitionBatch(
			async (items) => {
				const replies = (await port.run(RELEASE_RUNS, flatten(items))) as unknown[];
				return replies.map((entry) =>
					Array.isArray(entry)
						? entry
						: new ContainerError(`${this.#guard.where}: workflow release failed: ${String(entry)}`, {
								cause: entry,
							}),
				);
			},
			{ maxItems: MAX_RELEASES, maxInFlight: MAX_RELEASES_IN_FLIGHT },
		);
		return (run, tasks) => this.#release(batch, run, tasks);
	}

	async #release(
		batch: TransitionBatch,
		run: RunRecord,
		tasks: readonly TaskRecord[],
	): Promise<{ run: RunRecord; added: TaskRecord[] } | null> {
		this.#open();
		if (!isWellFormed(run.id)) return null;
		checkText('definition', run.definition);
		if (run.key !== null) checkText('key', run.key);
		// Checked as the container's add checks them, before anything is sent.
		const seen = new Set<string>();
		tasks.forEach((task, index) => {
			assertStorableTask(task, index);
			if (seen.has(task.id)) throw new DuplicateTaskError(task.id, 'appears twice in one add');
			seen.add(task.id);
		});
		const next: RunRecord = { ...run, rev: run.rev + 1 };
		const reply = (await batch.submit(
			encodeAllForAdd(tasks, [
				String(run.rev),
				...runArgs(next),
				String(Date.now()),
				callToken(),
				String(tasks.length),
			]),
		)) as unknown[];
		if (reply[0] === 'stale') return null;
		if (reply[0] === 'dupkey')
			throw new DuplicateRunError(keyConflictMessage(run.key as string, String(reply[1])), run.key as string);
		if (reply[0] === 'task') {
			if (reply[1] === 'dupkey')
				throw new DuplicateKeyError(JSON.parse(String(reply[2])) as string, String(reply[3]));
			throw new DuplicateTaskError(
				String(reply[2]),
				reply[3] === 'reserved' ? 'is being added by another add in progress' : undefined,
			);
		}
		// The records are handed over (as to `add`): those added get the seq the script gave them.
		const seqs = new Map<string, number>();
		for (let i = 1; i + 1 < reply.length; i += 2) seqs.set(String(reply[i]), Number(reply[i + 1]));
		const added = tasks.filter((task) => seqs.has(task.id));
		for (const task of added) task.seq = seqs.get(task.id) ?? task.seq;
		return { run: next, added };
	}

	async list(query: RunQuery = {}): Promise<RunPage> {
		this.#open();
		const args = listRunsArgs(query);
		if (args === null) return { runs: [], total: 0 };
		const [total, ...flat] = (await this.#run(LIST_RUNS, args)) as [number, ...(string | null)[]];
		return { runs: decodeRuns(flat), total: Number(total) };
	}

	async open(limit: number): Promise<RunRecord[]> {
		this.#open();
		if (!(limit >= 1)) return [];
		const count = Number.isFinite(limit) ? Math.floor(limit) : 1_000_000_000;
		return decodeRuns((await this.#run(OPEN_RUNS, [String(count)])) as (string | null)[]);
	}

	async remove(id: string, expected?: Pick<RunRecord, 'rev' | 'createdAt'>): Promise<boolean> {
		this.#open();
		if (!isWellFormed(id)) return false;
		const as = expected === undefined ? [] : [String(expected.rev), String(expected.createdAt)];
		const reply = (await this.#run(REMOVE_RUN, [id, ...as])) as number | string;
		if (typeof reply === 'string') {
			const status = reply as RunStatus;
			throw new RunStateError(
				id,
				`\`remove\` needs a finished run; this one is ${status}${isFinalRunStatus(status) ? ' with work still settling' : ''}`,
			);
		}
		return reply === 1;
	}

	/**
	 * Release the connection the store made (a given ioredis instance stays open). Calls waiting for a connection
	 * reject with `SchedulerClosedError`; those sent get their reply or reject (bounded by `commandTimeoutMs`).
	 */
	async close(): Promise<void> {
		if (this.#closed) return;
		this.#closed = true;
		this.#guard.closing();
		try {
			if (this.#owned) await closeOwned(this.#redis);
		} finally {
			this.#guard.closeAll();
		}
	}

	#open(): void {
		if (this.#closed) throw new SchedulerClosedError('workflow store');
	}

	/** Run a script by its SHA, loading it on NOSCRIPT (a new or restarted server); bounded by the guard. */
	#run(script: WorkflowScript, args: readonly string[]): Promise<unknown> {
		this.#open();
		return this.#call(script, args);
	}

	/** `#run` without the closed check: a batch of changes accepted before `close()` is still sent. */
	#call(script: WorkflowScript, args: readonly string[]): Promise<unknown> {
		return this.#guard.run(script.name, () => sendScript(this.#redis, this.keyPrefix, script, args));
	}
}
