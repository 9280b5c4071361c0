/**
 * A shared container double for scheduler unit tests: a QueueContainer behind the async methods only (no
 * synchronous face), marked `shared` so the scheduler keeps leases on it, with faults to switch on: calls that
 * reject after a delay (a server that is down behind a client that retries), calls that hang, claims applied
 * whose reply is lost or late, reads that lag, writes that fail or are refused. Its renew reports `unknown` as the contract says.
 */
import { QueueContainer } from 'lightsched/containers/queue';
import { NonRetryableError, type RenewResult, type TaskContainer, type TaskRecord, type TaskStatus } from 'lightsched';

export interface Faults {
	/** Every call rejects after this many ms (a server that is down). */
	downMs?: number;
	/** Every call never settles (a server that swallows requests). */
	hang?: boolean;
	/** The next claims: applied, then rejected as if the reply was lost. */
	lostClaimReplies?: number;
	/** Claims are applied at once but answer this many ms later. */
	claimReplyDelayMs?: number;
	/**
	 * The next claims reject at once and are applied this many ms later (a server that commits a statement after
	 * the client saw its connection drop).
	 */
	lateClaims?: { count: number; applyAfterMs: number };
	/** Renewals are applied at once but answer this many ms later. */
	renewReplyDelayMs?: number;
	/** Claims that took tasks are applied at once but answer this many ms later (empty claims answer at once). */
	takenReplyDelayMs?: number;
	/** `get` reads the task this many ms after it is called. */
	getDelayMs?: number;
	/** The next transitions (to a status in `failTransitionsTo`, or any when absent) reject without being applied. */
	failTransitions?: number;
	failTransitionsTo?: readonly TaskStatus[];
	/** Transitions to these statuses are refused for good (`NonRetryableError`, as a container refusing an output). */
	refuseTo?: readonly TaskStatus[];
}

export function sharedDouble(): {
	container: TaskContainer;
	inner: QueueContainer;
	faults: Faults;
	calls: Record<string, number>;
} {
	const inner = new QueueContainer();
	const faults: Faults = {};
	const calls: Record<string, number> = {};
	const call = <T>(name: string, run: () => Promise<T>): Promise<T> => {
		calls[name] = (calls[name] ?? 0) + 1;
		if (faults.hang) return new Promise<T>(() => undefined);
		if (faults.downMs !== undefined) {
			const ms = faults.downMs;
			return new Promise<T>((_, reject) =>
				setTimeout(() => reject(new Error(`connect ECONNREFUSED 127.0.0.1:1 (${name})`)), ms),
			);
		}
		return run();
	};
	const container: TaskContainer = {
		shared: true,
		add: (tasks) => call('add', () => inner.add(tasks)),
		claim: (max, owner, leaseMs, now) =>
			call('claim', async () => {
				const late = faults.lateClaims;
				if (late !== undefined && late.count > 0) {
					late.count--;
					setTimeout(() => void inner.claim(max, owner, leaseMs, now + late.applyAfterMs), late.applyAfterMs);
					throw new Error('connection reset (the claim is applied after its caller saw it fail)');
				}
				const claimed = await inner.claim(max, owner, leaseMs, now);
				if (claimed.length > 0 && (faults.lostClaimReplies ?? 0) > 0) {
					faults.lostClaimReplies = (faults.lostClaimReplies ?? 0) - 1;
					throw new Error('connection reset (the claim was applied, its reply lost)');
				}
				if (faults.claimReplyDelayMs !== undefined)
					await new Promise((resolve) => setTimeout(resolve, faults.claimReplyDelayMs));
				if (claimed.length > 0 && faults.takenReplyDelayMs !== undefined)
					await new Promise((resolve) => setTimeout(resolve, faults.takenReplyDelayMs));
				return claimed;
			}),
		transition: (id, from, to, patch, owner, claim) =>
			call('transition', async () => {
				if (faults.refuseTo?.includes(to))
					throw new NonRetryableError(`the container refuses this write (${id} -> ${to})`);
				if (
					(faults.failTransitions ?? 0) > 0 &&
					(faults.failTransitionsTo === undefined || faults.failTransitionsTo.includes(to))
				) {
					faults.failTransitions = (faults.failTransitions ?? 0) - 1;
					throw new Error(`connection reset (${id} -> ${to} not applied)`);
				}
				return inner.transition(id, from, to, patch, owner, claim);
			}),
		renew: (owner, ids, leaseMs, now) =>
			call('renew', async (): Promise<RenewResult> => {
				const result = await inner.renew(owner, ids, leaseMs, now);
				const held = (await inner.list({ status: ['running', 'exporting'], limit: 10_000 })).tasks;
				const unknown = held
					.filter((task: TaskRecord) => task.owner === owner && !ids.includes(task.id))
					.map((task) => task.id);
				if (faults.renewReplyDelayMs !== undefined)
					await new Promise((resolve) => setTimeout(resolve, faults.renewReplyDelayMs));
				return { ...result, unknown };
			}),
		reclaimExpired: (now) => call('reclaimExpired', () => inner.reclaimExpired(now)),
		requestStop: (id) => call('requestStop', () => inner.requestStop(id)),
		nextDueAt: (now) => call('nextDueAt', () => inner.nextDueAt(now)),
		get: (id) =>
			call('get', async () => {
				if (faults.getDelayMs !== undefined)
					await new Promise((resolve) => setTimeout(resolve, faults.getDelayMs));
				return inner.get(id);
			}),
		list: (query) => call('list', () => inner.list(query)),
		counts: () => call('counts', () => inner.counts()),
		remove: (id) => call('remove', () => inner.remove(id)),
		close: () => inner.close(),
	};
	return { container, inner, faults, calls };
}
