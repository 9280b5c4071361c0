/**
 * The `waitForReplicas` option (options.ts): adds on a connection of their own, each confirmed by Redis's
 * `WAIT <replicas> <timeoutMs>` on that connection once the master stored it. Redis replicates after it answers, so
 * an add the master acknowledged in its last moments was lost with it at a failover; `WAIT` returns once that many
 * replicas have every write this connection made (or at its timeout, with how many had). The adds have their own
 * connection because `WAIT` holds the connection it is sent on: a lagging replica would otherwise hold every claim,
 * renewal and end of the container behind each add.
 */
import type { Redis } from 'ioredis';
import { PartialAddError } from 'lightsched/kit';
import { RunOutcomeUnknownError } from '../../workflows/errors.js';
import { CallGuard } from './call-guard.js';
import { closeOwned } from './connection.js';
import type { CheckedOptions, WaitForReplicasOption } from './options.js';
import { scriptRunner, type ScriptRun } from './script-runner.js';

/** "0 of the 1 replica asked for confirmed it within 300 ms (waitForReplicas)". */
function shortfall(replicas: number, confirmed: number, timeoutMs: number): string {
	return `${confirmed} of the ${replicas} replica${replicas === 1 ? '' : 's'} asked for confirmed it within ${timeoutMs} ms (waitForReplicas)`;
}

/**
 * An add stored on the master that fewer replicas than `waitForReplicas.replicas` confirmed within its
 * `timeoutMs`: its tasks are stored, and run, unless the master fails before it replicates them. A
 * `PartialAddError` with every id unsure: add them again with the same ids once the replicas are back (a stored id
 * is refused with `DuplicateTaskError`), or look them up.
 */
export class UnreplicatedAddError extends PartialAddError {
	override name = 'UnreplicatedAddError';
	/** How many replicas had to confirm the add. */
	readonly replicas: number;
	/** How many did within the timeout. */
	readonly confirmed: number;

	constructor(where: string, ids: readonly string[], replicas: number, confirmed: number, timeoutMs: number) {
		const reason = `stored on the master, but ${shortfall(replicas, confirmed, timeoutMs)}: a failover before it replicates would lose it`;
		super(where, ids.length, [], ids, new Error(reason));
		const tasks = `${ids.length} task${ids.length === 1 ? '' : 's'}`;
		this.message = `${where}: add of ${tasks} ${reason}`;
		this.replicas = replicas;
		this.confirmed = confirmed;
	}
}

/** The adds' connection as a `RedisWorkflowStore` on the container uses it for its run creates. */
export interface ReplicatedWrites {
	/** Run `command` on the adds' connection, bounded as the container's calls are. */
	call<T>(what: string, command: (redis: Redis) => Promise<T>): Promise<T>;
	/**
	 * After a write on it: wait for the replicas. Resolves with why too few confirmed (for a message), or `undefined`
	 * when enough did; rejects with a `ContainerError` when the answer could not be had.
	 */
	unconfirmed(): Promise<string | undefined>;
}

export interface ReplicatedAdds extends ReplicatedWrites {
	/** Runs the add scripts on the adds' connection. */
	readonly run: ScriptRun;
	/** After an add stored `ids`: wait for the replicas; rejects with `UnreplicatedAddError` if too few confirm. */
	confirm(ids: readonly string[]): Promise<void>;
	/** Close the adds' connection (after the calls on their way). */
	close(): Promise<void>;
	/** Settle whatever is left on it. */
	closeAll(): void;
	/** Calls waiting for the connection reject now (the container closes). */
	closing(): void;
}

/**
 * Open the adds' connection (`connect()` makes it; the container owns it) for the container of `keyPrefix`, its
 * calls bounded and its scripts on the clock as the container's.
 */
export function openReplicatedAdds(
	connect: () => Redis,
	option: Required<WaitForReplicasOption>,
	options: Pick<CheckedOptions, 'serverClock' | 'connectTimeoutMs' | 'commandTimeoutMs'>,
	keyPrefix: string,
): ReplicatedAdds {
	const redis = connect();
	const guard = new CallGuard(redis, {
		label: `RedisContainer \`${keyPrefix}\` (adds)`,
		connectTimeoutMs: options.connectTimeoutMs,
		commandTimeoutMs: options.commandTimeoutMs,
		owned: true,
	});
	const { replicas, timeoutMs } = option;
	// WAIT takes up to its timeout on the server: the reply's bound is that plus the usual one.
	const scale = 1 + timeoutMs / options.commandTimeoutMs;
	/** How many replicas confirmed every write of the connection made before the call, within `timeoutMs`. */
	const confirmed = async (): Promise<number> =>
		Number(await guard.run('wait for replicas', () => redis.wait(replicas, timeoutMs), scale));
	return {
		run: scriptRunner(redis, guard, keyPrefix, options.serverClock),
		call: (what, command) => guard.run(what, () => command(redis)),
		async unconfirmed() {
			const count = await confirmed();
			return count >= replicas ? undefined : shortfall(replicas, count, timeoutMs);
		},
		async confirm(ids) {
			let count: number;
			try {
				count = await confirmed();
			} catch (error) {
				// The master stored the add; whether it keeps it is what could not be learnt.
				throw new PartialAddError(guard.where, ids.length, [], ids, error);
			}
			if (count < replicas) throw new UnreplicatedAddError(guard.where, ids, replicas, count, timeoutMs);
		},
		async close() {
			await closeOwned(redis);
		},
		closeAll: () => guard.closeAll(),
		closing: () => guard.closing(),
	};
}

/**
 * After a run's create on the adds' connection (`port`): `RunOutcomeUnknownError` when too few replicas confirmed it
 * (or they could not be asked), saying so; `undefined` when enough did.
 */
export async function unconfirmedCreate(
	runId: string,
	port: ReplicatedWrites,
): Promise<RunOutcomeUnknownError | undefined> {
	let why: string | undefined;
	let cause: unknown;
	try {
		why = await port.unconfirmed();
		cause = why === undefined ? undefined : new Error(why);
	} catch (error) {
		why = 'the replicas could not be asked whether they have it';
		cause = error;
	}
	return why === undefined
		? undefined
		: new RunOutcomeUnknownError(
				runId,
				cause,
				`it is stored on the master, but ${why}: a failover before it replicates would lose it`,
			);
}
