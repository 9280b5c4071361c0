/**
 * Sequences the model-based test found (shrunk), replayed on every container against the model, so each fixed
 * divergence stays fixed everywhere. Each names the container it was found on and what went wrong there.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisContainer } from 'lightsched/containers/redis';
import type { Command, NewTaskSpec } from './commands.js';
import { ModelMismatch, runAgainstModel } from './runner.js';
import { SETUP_NAMES, startSetups, type SetupName, type Setups } from './setups.js';

const task = (id: NewTaskSpec['id'], more: Partial<NewTaskSpec> = {}): NewTaskSpec => ({
	id,
	priority: 0,
	maxAttempts: 1,
	runAtIn: 0,
	item: 0,
	...more,
});
const retryInPlace = (id: NewTaskSpec['id'], delay: number): Command => ({
	kind: 'move',
	id,
	move: { from: 'waiting', to: 'waiting' },
	owner: null,
	counted: true,
	delay,
	value: 0,
	withRef: false,
});

/**
 * Why the memory containers still diverge with a caller's clock behind the real one. Checking `runAt` at claim time
 * fixes it, but test/scheduler/robustness.test.ts ("keeps one attempt") relies on the opposite: it reclaims at a
 * caller's time an hour ahead (so runAt = now + 1 h) and expects the scheduler to claim the task again at once.
 */
const MEMORY_CLOCK = "add and transition file a task as due by Date.now(), not by the claim's now (see MEMORY_CLOCK)";

/** The same on Redis with `clock: 'caller'` (docs/internals/state-machine.md). */
const REDIS_CLOCK =
	"clock 'caller': the add script files a task as due or delayed by the real clock (Date.now()), so claim takes it early";

interface Regression {
	readonly title: string;
	readonly commands: readonly Command[];
	/** Where the controlled clock starts relative to the real one (ms); the model test runs a day ahead. */
	readonly clockOffset?: number;
	/**
	 * Set-ups that still diverge here, in files this session may not change (see /work/notes/divergences.md and
	 * docs/internals/state-machine.md): the test checks that they still do, so it fails once they are fixed and
	 * the entry must go.
	 */
	readonly knownDivergence?: Partial<Record<SetupName, string>>;
	/** Run with `renewAnyIds` (see `RunOptions`). */
	readonly renewAnyIds?: boolean;
}

const REGRESSIONS: readonly Regression[] = [
	{
		// combined(queue+sqlite), with Debian's SQLite 3.40: the second reclaim's RETURNING handed the failed task's new
		// `error` back as a zero-length BLOB (the stored text was right), so reclaimExpired threw ERR_CONTAINER
		// ("Unexpected end of JSON input"). Found by the model test's random seed -1777696995 in a CI run.
		title: 'a reclaim that fails a task returns its lease-expired error, also on a reclaim after another',
		commands: [
			{ kind: 'add', tasks: [{ id: { pick: 'free', n: 0 }, priority: 0, maxAttempts: 1, runAtIn: 0, item: 0 }] },
			{ kind: 'add', tasks: [{ id: { pick: 'free', n: 0 }, priority: 0, maxAttempts: 1, runAtIn: 0, item: 0 }] },
			{ kind: 'claim', max: 1, owner: 'o1', leaseMs: 1000 },
			{ kind: 'advance', ms: 1000 },
			{ kind: 'claim', max: 1, owner: 'o1', leaseMs: 1000 },
			{ kind: 'advance', ms: 1 },
			{ kind: 'reclaim' },
			{ kind: 'advance', ms: 2500 },
			{ kind: 'reclaim' },
		] as Command[],
	},
	{
		// OrderedMapContainer: a waiting→waiting transition changed the runAt of a task inside the delayed heap, whose
		// order then broke; the due task behind it was never promoted (claim returned []).
		title: 'a waiting task whose runAt a transition changes keeps the delayed tasks in order',
		commands: [
			{ kind: 'add', tasks: [task('a', { runAtIn: 1 }), task('d', { runAtIn: 1 })] },
			{ kind: 'advance', ms: 1 },
			retryInPlace('a', 3_000),
			{ kind: 'claim', max: 1, owner: 'o1', leaseMs: 1_000 },
		],
	},
	{
		// Both memory containers: a due waiting task moved to a later runAt stayed in the due queue (claimable at once)
		// and nextDueAt did not see it (null).
		title: 'a due task moved to a later runAt is not claimable before it, and nextDueAt says when',
		commands: [
			{ kind: 'add', tasks: [task('a'), task('d')] },
			{ kind: 'claim', max: 1, owner: 'o1', leaseMs: 1_000 },
			retryInPlace('d', 3_000),
			{ kind: 'nextDueAt' },
			{ kind: 'claim', max: 1, owner: 'o2', leaseMs: 1_000 },
			{ kind: 'advance', ms: 2_500 },
			{ kind: 'claim', max: 1, owner: 'o2', leaseMs: 1_000 },
			{ kind: 'advance', ms: 500 },
			{ kind: 'claim', max: 1, owner: 'o2', leaseMs: 1_000 },
		],
	},
	{
		// CombinedContainer: its claim wrote stopRequested = false to the persistent store while memory kept true, so
		// get (memory) and list (the store) disagreed.
		title: 'a claim keeps a standing stop request, in memory and in the store',
		commands: [
			{ kind: 'add', tasks: [task('a', { maxAttempts: 3 })] },
			{ kind: 'claim', max: 1, owner: 'o1', leaseMs: 1_000 },
			{ kind: 'requestStop', id: 'a' },
			{
				kind: 'move',
				id: 'a',
				move: { from: 'running', to: 'waiting' },
				owner: 'o1',
				counted: false,
				delay: 0,
				value: 1,
				withRef: true,
			},
			{ kind: 'claim', max: 1, owner: 'o2', leaseMs: 1_000 },
			{ kind: 'renew', owner: 'o2', ids: ['a'], extra: [], leaseMs: 1_000 },
		],
	},
	{
		// `add` has no `now`: the memory containers and Redis (clock 'caller') file a new task as due or delayed by the
		// real clock, so with a caller's clock behind it a task due in 4 s on the caller's clock is claimed at once.
		// SQL compares runAt with the claim's now. Only a caller whose clock differs from Date.now() (a test) sees it.
		title: "a task is not claimed before its runAt on the caller's clock, even behind the real one",
		clockOffset: -3_600_000,
		knownDivergence: {
			queue: MEMORY_CLOCK,
			'ordered-map': MEMORY_CLOCK,
			'queue(sync)': MEMORY_CLOCK,
			'ordered-map(sync)': MEMORY_CLOCK,
			'combined(queue+sqlite)': MEMORY_CLOCK,
			'combined(ordered-map+sqlite)': MEMORY_CLOCK,
			redis: REDIS_CLOCK,
			'redis(per-owner)': REDIS_CLOCK,
		},
		commands: [
			{ kind: 'add', tasks: [task('a', { runAtIn: 4_000 })] },
			{ kind: 'claim', max: 1, owner: 'o1', leaseMs: 1_000 },
			{ kind: 'nextDueAt' },
			{ kind: 'advance', ms: 2_500 },
			{ kind: 'claim', max: 1, owner: 'o1', leaseMs: 1_000 },
			{ kind: 'advance', ms: 2_500 },
			{ kind: 'claim', max: 1, owner: 'o1', leaseMs: 1_000 },
		],
	},
	{
		// Redis: a transition refused by the compare-and-set (another owner's late report) made the container forget
		// it had handed the task out; the owner's next renew, which left the task out, then saw it as never handed
		// out and handed it back by itself (runAt by the real clock) instead of reporting it as `unknown`.
		title: 'a held task a renew leaves out is reported as unknown, even after a refused transition of it',
		renewAnyIds: true,
		commands: [
			{ kind: 'add', tasks: [task('a')] },
			{ kind: 'claim', max: 1, owner: 'o1', leaseMs: 1_000 },
			{
				kind: 'move',
				id: 'a',
				move: { from: 'running', to: 'waiting' },
				owner: 'o2',
				counted: false,
				delay: 0,
				value: 0,
				withRef: false,
			},
			{ kind: 'renew', owner: 'o1', ids: [], extra: [], leaseMs: 1_000 },
		],
	},
	{
		// Redis, found with MODEL_RENEW_ANY=1 (seeds 1 and 2): the same when the refused transition is the owner's own,
		// from a status the task is not in: the task is still its owner's, handed out.
		title: "a held task a renew leaves out is reported as unknown, even after a refusal of its owner's move",
		renewAnyIds: true,
		commands: [
			{ kind: 'add', tasks: [task('a')] },
			{ kind: 'claim', max: 1, owner: 'o1', leaseMs: 1_000 },
			{
				kind: 'move',
				id: 'a',
				move: { from: 'waiting', to: 'waiting' },
				owner: 'o1',
				counted: false,
				delay: 0,
				value: 0,
				withRef: false,
			},
			{ kind: 'renew', owner: 'o1', ids: [], extra: [], leaseMs: 1_000 },
		],
	},
	{
		// Redis, found with MODEL_RENEW_ANY=1 (seed 3): another owner's renew naming the task (lost for it) made the
		// container forget that it had handed the task out to its owner, as the refused transition above did.
		title: 'a held task a renew leaves out is reported as unknown, even after another owner renewed it',
		renewAnyIds: true,
		commands: [
			{ kind: 'add', tasks: [task('a')] },
			{ kind: 'claim', max: 1, owner: 'o1', leaseMs: 1_000 },
			{ kind: 'renew', owner: 'o3', ids: ['a'], extra: [], leaseMs: 1_000 },
			{ kind: 'renew', owner: 'o1', ids: [], extra: [], leaseMs: 1_000 },
		],
	},
];

let setups: Setups;
beforeAll(async () => {
	setups = await startSetups(SETUP_NAMES, { redisClaimAhead: false });
});
afterAll(() => setups?.stop());

describe.each(SETUP_NAMES.map((name) => [name]))('%s: sequences the model test found', (name) => {
	for (const regression of REGRESSIONS) {
		const known = regression.knownDivergence?.[name];
		it(known === undefined ? regression.title : `${regression.title} — KNOWN DIVERGENCE: ${known}`, async () => {
			const setup = setups.all.find((s) => s.name === name);
			if (setup === undefined) throw new Error(`no set-up ${name}`);
			const container = await setup.make();
			try {
				const start = Math.floor(Date.now() / 1_000) * 1_000 + (regression.clockOffset ?? 86_400_000);
				const run = runAgainstModel(container, regression.commands, {
					priority: setup.priority,
					start,
					getEach: true,
					renewAnyIds: regression.renewAnyIds === true,
				});
				if (known === undefined) await run;
				else await expect(run, 'fixed? remove the knownDivergence entry').rejects.toBeInstanceOf(ModelMismatch);
			} finally {
				await container.close();
			}
		});
	}
});

describe('redis with claim-ahead (its default): sequences the model test found', () => {
	// A busy owner's final transition also claims the owner's next due task (claim-ahead, containers/redis/transitions.ts):
	// a move the contract does not state, visible to every reader (get, list, counts) while the container holds it.
	it('KNOWN DIVERGENCE: a final transition claims another task ahead for its owner', async () => {
		const url = setups.redisUrl;
		if (url === undefined) throw new Error('no Redis server');
		const container = new RedisContainer({
			redis: url,
			name: `claim-ahead-${process.pid}-${Date.now()}`,
			log: false,
			clock: 'caller',
		});
		try {
			const run = runAgainstModel(
				container,
				[
					{ kind: 'add', tasks: [task('a'), task('c')] },
					{ kind: 'claim', max: 1, owner: 'o1', leaseMs: 1_000 },
					{
						kind: 'move',
						id: 'a',
						move: { from: 'running', to: 'succeeded' },
						owner: 'o1',
						counted: false,
						delay: 0,
						value: 0,
						withRef: false,
					},
				],
				{ priority: true, start: Math.floor(Date.now() / 1_000) * 1_000 + 86_400_000 },
			);
			await expect(run, 'fixed? turn this into a plain regression').rejects.toThrow(
				/stored c: field `status` expected "waiting", got "running"/,
			);
		} finally {
			await container.close();
		}
	});

	// The hand-off to idle owners (containers/redis/idle-push.ts, on by default; in the model test off twice: its
	// set-up does not watch the wake-up channel, and sets a globalConcurrency): an owner whose claim came back short is registered as idle, and an add claims its due tasks
	// for it in the add's own script, held for the owner's next claim: a move the contract does not state, visible
	// to every reader (get, list, counts) before the owner claims.
	it('KNOWN DIVERGENCE: an add hands a due task to an idle owner', async () => {
		const url = setups.redisUrl;
		if (url === undefined) throw new Error('no Redis server');
		const container = new RedisContainer({
			redis: url,
			name: `hand-off-${process.pid}-${Date.now()}`,
			log: false,
			clock: 'caller',
		});
		try {
			// The hand-off travels on the wake-up channel, which a scheduler watches (the model test's set-up does not).
			container.watch(() => undefined);
			await container.ready();
			const run = runAgainstModel(
				container,
				[
					{ kind: 'add', tasks: [task('a')] },
					{ kind: 'claim', max: 2, owner: 'o1', leaseMs: 1_000 },
					{ kind: 'add', tasks: [task('c')] },
				],
				// The caller's clock on the real one: the add judges due-ness and the registration (a second after the
				// claim, on the claim's clock) by the real clock.
				{ priority: true, start: Date.now() },
			);
			await expect(run, 'fixed? turn this into a plain regression').rejects.toThrow(
				/stored c: field `status` expected "waiting", got "running"/,
			);
		} finally {
			await container.close();
		}
	});
});
