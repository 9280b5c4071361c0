/**
 * The commands of the model-based test, as plain data (so fast-check can shrink a failing sequence and print it),
 * and their generators. Ids come from a small pool and owners from three names, so sequences collide often:
 * re-adds, duplicates, late reports from a previous owner, stop requests on finished tasks.
 *
 * A few choices are resolved when the command runs, from the model's state (the same for every container): a
 * move's `from` may be "the task's current status" and its owner "the task's current owner", so most moves are
 * legal, while the rest test the compare-and-set with a wrong status or owner.
 */
import fc from 'fast-check';
import type { TaskStatus } from 'lightsched';

export const IDS = ['a', 'b', 'c', 'd', 'e'] as const;
export const OWNERS = ['o1', 'o2', 'o3'] as const;
export type Id = (typeof IDS)[number];
export type Owner = (typeof OWNERS)[number];

/**
 * A task id: a literal one, or one picked when the command runs among the model's tasks that are `active`
 * (running or exporting), `free` (absent or finished: an add succeeds) or `finished`, the `n`th of them (modulo);
 * a literal id from the pool when there is none. Picking keeps most commands meaningful (a claim finds due tasks,
 * a move finds a running task) while literal ids still hit every other case.
 */
export type IdChoice = Id | { readonly pick: 'active' | 'free' | 'finished'; readonly n: number };

/** The leases a claim or renew asks for (ms). */
export const LEASES = [1_000, 5_000, 30_000] as const;

export interface NewTaskSpec {
	readonly id: IdChoice;
	readonly priority: number;
	readonly maxAttempts: number;
	/** `runAt` is the clock's now plus this (0: due at once). */
	readonly runAtIn: number;
	readonly item: number;
}

/** Which move: the `from` → `to` of a transition. `'current'` picks a legal one from the task's status at run time. */
export type MoveChoice = { readonly from: TaskStatus; readonly to: TaskStatus } | { readonly current: number };

/** `'current'`: the task's owner at run time (the right one while it runs); `null`: no owner comparison. */
export type OwnerChoice = Owner | 'current' | null;

export type Command =
	| { readonly kind: 'add'; readonly tasks: readonly NewTaskSpec[] }
	| { readonly kind: 'claim'; readonly max: number; readonly owner: Owner; readonly leaseMs: number }
	| {
			readonly kind: 'move';
			readonly id: IdChoice;
			readonly move: MoveChoice;
			readonly owner: OwnerChoice;
			/** running → waiting: a counted retry (`retryPatch`) or an uncounted hand back (`handBackPatch`). */
			readonly counted: boolean;
			/** A retry's backoff (ms). */
			readonly delay: number;
			/** A value for the patch's output, progress, error message and ref. */
			readonly value: number;
			readonly withRef: boolean;
	  }
	/** `ids`: the ids to renew, or `'held'`: the tasks the model says the owner holds (plus `extra`). */
	| {
			readonly kind: 'renew';
			readonly owner: Owner;
			readonly ids: readonly Id[] | 'held';
			readonly extra: readonly Id[];
			readonly leaseMs: number;
	  }
	| { readonly kind: 'advance'; readonly ms: number }
	| { readonly kind: 'reclaim' }
	| { readonly kind: 'requestStop'; readonly id: IdChoice }
	| { readonly kind: 'remove'; readonly id: IdChoice }
	| { readonly kind: 'get'; readonly id: Id }
	| {
			readonly kind: 'list';
			readonly status: TaskStatus | readonly TaskStatus[] | null;
			readonly offset: number;
			readonly limit: number;
			readonly order: 'asc' | 'desc';
	  }
	| { readonly kind: 'counts' }
	| { readonly kind: 'nextDueAt' };

const id = fc.constantFrom(...IDS);
const owner = fc.constantFrom(...OWNERS);
const lease = fc.constantFrom(...LEASES);
const status = fc.constantFrom<TaskStatus>('waiting', 'running', 'exporting', 'succeeded', 'failed', 'stopped');

const pick = (kind: 'active' | 'free' | 'finished'): fc.Arbitrary<IdChoice> =>
	fc.record({ pick: fc.constant(kind), n: fc.nat(4) });
/** Mostly a task of the given kind, sometimes any id of the pool. */
const idChoice = (kind: 'active' | 'free' | 'finished', weight: number): fc.Arbitrary<IdChoice> =>
	fc.oneof({ weight, arbitrary: pick(kind) }, { weight: 1, arbitrary: id });

const newTask: fc.Arbitrary<NewTaskSpec> = fc.record({
	id: idChoice('free', 6),
	priority: fc.integer({ min: -1, max: 1 }),
	maxAttempts: fc.integer({ min: 1, max: 3 }),
	runAtIn: fc.oneof(
		{ weight: 3, arbitrary: fc.constant(0) },
		{ weight: 1, arbitrary: fc.integer({ min: 1, max: 4_000 }) },
	),
	item: fc.integer({ min: 0, max: 99 }),
});

const anyMove = fc.record({ from: status, to: status });

export const command: fc.Arbitrary<Command> = fc.oneof(
	{
		weight: 5,
		arbitrary: fc.record({
			kind: fc.constant('add' as const),
			tasks: fc.array(newTask, { minLength: 1, maxLength: 3 }),
		}),
	},
	{
		weight: 5,
		arbitrary: fc.record({
			kind: fc.constant('claim' as const),
			max: fc.integer({ min: 1, max: 3 }),
			owner,
			leaseMs: lease,
		}),
	},
	{
		weight: 6,
		arbitrary: fc.record({
			kind: fc.constant('move' as const),
			id: idChoice('active', 5),
			move: fc.oneof(
				{ weight: 4, arbitrary: fc.record({ current: fc.nat(8) }) },
				{ weight: 1, arbitrary: anyMove },
			),
			owner: fc.oneof(
				{ weight: 4, arbitrary: fc.constant('current' as const) },
				{ weight: 1, arbitrary: owner },
				{ weight: 1, arbitrary: fc.constant(null) },
			),
			counted: fc.boolean(),
			delay: fc.constantFrom(0, 500, 3_000),
			value: fc.integer({ min: 0, max: 99 }),
			withRef: fc.boolean(),
		}),
	},
	{
		weight: 2,
		arbitrary: fc.record({
			kind: fc.constant('renew' as const),
			owner,
			ids: fc.oneof(
				{ weight: 3, arbitrary: fc.constant('held' as const) },
				{ weight: 1, arbitrary: fc.uniqueArray(id, { maxLength: 3 }) },
			),
			extra: fc.uniqueArray(id, { maxLength: 1 }),
			leaseMs: lease,
		}),
	},
	{
		weight: 3,
		arbitrary: fc.record({
			kind: fc.constant('advance' as const),
			ms: fc.constantFrom(1, 500, 1_000, 2_500, 10_000, 40_000),
		}),
	},
	{ weight: 3, arbitrary: fc.record({ kind: fc.constant('reclaim' as const) }) },
	{ weight: 2, arbitrary: fc.record({ kind: fc.constant('requestStop' as const), id: idChoice('active', 3) }) },
	{ weight: 1, arbitrary: fc.record({ kind: fc.constant('remove' as const), id: idChoice('finished', 2) }) },
	{ weight: 1, arbitrary: fc.record({ kind: fc.constant('get' as const), id }) },
	{
		weight: 1,
		arbitrary: fc.record({
			kind: fc.constant('list' as const),
			status: fc.oneof(fc.constant(null), status, fc.uniqueArray(status, { minLength: 1, maxLength: 3 })),
			offset: fc.integer({ min: 0, max: 3 }),
			limit: fc.integer({ min: 0, max: 4 }),
			order: fc.constantFrom('asc' as const, 'desc' as const),
		}),
	},
	{ weight: 1, arbitrary: fc.record({ kind: fc.constant('counts' as const) }) },
	{ weight: 1, arbitrary: fc.record({ kind: fc.constant('nextDueAt' as const) }) },
);

/** One command as a line of a readable listing (ids as the runner resolved them). */
export function formatCommand(c: Command): string {
	switch (c.kind) {
		case 'add':
			return `add ${c.tasks.map((t) => `${showId(t.id)}(prio ${t.priority}, max ${t.maxAttempts}${t.runAtIn > 0 ? `, runAt now+${t.runAtIn}` : ''})`).join(' ')}`;
		case 'claim':
			return `claim max ${c.max} by ${c.owner} lease ${c.leaseMs}`;
		case 'move': {
			const move = 'current' in c.move ? `legal move #${c.move.current}` : `${c.move.from}→${c.move.to}`;
			return `move ${showId(c.id)} ${move} owner ${c.owner ?? '(none)'}${c.counted ? ' counted' : ''} delay ${c.delay} value ${c.value}${c.withRef ? ' +ref' : ''}`;
		}
		case 'renew':
			return `renew by ${c.owner} [${c.ids === 'held' ? 'held' : c.ids.join(', ')}${c.extra.length > 0 ? ` + ${c.extra.join(', ')}` : ''}] lease ${c.leaseMs}`;
		case 'advance':
			return `advance clock ${c.ms} ms`;
		case 'reclaim':
			return 'reclaimExpired';
		case 'requestStop':
		case 'remove':
		case 'get':
			return `${c.kind} ${showId(c.id)}`;
		case 'list':
			return `list status ${JSON.stringify(c.status)} offset ${c.offset} limit ${c.limit} ${c.order}`;
		default:
			return c.kind;
	}
}

function showId(choice: IdChoice): string {
	return typeof choice === 'string' ? choice : `(${choice.pick} #${choice.n})`;
}
