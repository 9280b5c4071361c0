/**
 * Runs a command sequence against a container and the reference model side by side, on a controlled clock.
 * After every command it compares the command's result, then every stored record (`list`) and the `counts`.
 * The first difference throws a `ModelMismatch` whose message lists the sequence as run (with the moves and
 * owners it resolved) and the differences, field by field.
 *
 * Normalised: `updatedAt` (the container's own clock) is checked for its kind only, and `seq` by the order it
 * gives (`list` must return the tasks in the model's arrival order), not by value. Without priority (the FIFO
 * queue) a claim may pick any of the due tasks, as many as the model would; the model then claims those.
 */
import { isDeepStrictEqual } from 'node:util';
import {
	copyTask,
	createTaskRecord,
	type TaskContainer,
	type TaskPatch,
	type TaskRecord,
	type TaskStatus,
} from 'lightsched/kit';
import {
	exportPatch,
	failPatch,
	handBackPatch,
	OWNER_MOVES,
	retryPatch,
	stopPatch,
	successPatch,
} from '../../src/task-moves.js';
import { recordDiffs } from './record-diff.js';
import { formatCommand, IDS, type Command, type Id, type IdChoice } from './commands.js';
import { TaskModel, type Outcome } from './model.js';

/** The moves a command may make: every owner move, and running → running (progress and ref). */
const MOVES: readonly (readonly [TaskStatus, TaskStatus])[] = [...OWNER_MOVES, ['running', 'running']];

const LOOSE = new Set<keyof TaskRecord>(['updatedAt', 'seq']);

export class ModelMismatch extends Error {
	override name = 'ModelMismatch';
}

async function outcome<T>(call: () => Promise<T>): Promise<Outcome<T>> {
	try {
		return { ok: true, value: await call() };
	} catch (error) {
		const code = (error as { code?: unknown }).code;
		return {
			ok: false,
			code: typeof code === 'string' ? code : `${(error as Error).name}: ${(error as Error).message}`,
		};
	}
}

const show = (value: unknown): string => JSON.stringify(value);
const byId = (a: TaskRecord, b: TaskRecord): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** The differences between two lists of records, matched by id. */
function listDiffs(where: string, actual: readonly TaskRecord[], expected: readonly TaskRecord[]): string[] {
	const ids = (list: readonly TaskRecord[]): string[] => list.map((t) => t.id).sort();
	if (!isDeepStrictEqual(ids(actual), ids(expected)))
		return [`${where}: tasks ${show(ids(actual))}, expected ${show(ids(expected))}`];
	const want = [...expected].sort(byId);
	return [...actual]
		.sort(byId)
		.flatMap((task, i) => recordDiffs(`${where} ${task.id}`, task, want[i] as TaskRecord, LOOSE));
}

function outcomeDiffs<T>(
	where: string,
	actual: Outcome<T>,
	expected: Outcome<T>,
	compare: (a: T, e: T) => string[],
): string[] {
	if (actual.ok && expected.ok) return compare(actual.value, expected.value);
	if (!actual.ok && !expected.ok)
		return actual.code === expected.code ? [] : [`${where}: threw ${actual.code}, expected ${expected.code}`];
	return [
		`${where}: ${actual.ok ? `returned ${show(actual.value)}` : `threw ${actual.code}`}, expected ${expected.ok ? `${show(expected.value)}` : `to throw ${expected.code}`}`,
	];
}

const recordOrNull = (where: string, actual: TaskRecord | null, expected: TaskRecord | null): string[] =>
	expected === null
		? actual === null
			? []
			: [`${where}: returned task ${actual.id} (${actual.status}), expected null`]
		: recordDiffs(where, actual, expected, LOOSE);

/** The patch a move writes, built as the scheduler builds it (src/task-moves.ts). */
function patchFor(
	command: Extract<Command, { kind: 'move' }>,
	from: TaskStatus,
	to: TaskStatus,
	current: TaskRecord | null,
	now: number,
): TaskPatch {
	const ref = command.withRef ? `ref-${command.value}` : undefined;
	const error = Object.assign(new Error(`failure ${command.value}`), { code: `E_${command.value}` });
	switch (to) {
		case 'waiting':
			return from === 'running' && !command.counted
				? handBackPatch({ attempts: current?.attempts ?? 1 }, now, ref)
				: retryPatch(error, now + command.delay, ref);
		case 'failed':
			return failPatch(error, now, ref);
		case 'stopped':
			return stopPatch(now, ref);
		case 'succeeded':
			return successPatch({ out: command.value }, ref, now);
		case 'exporting':
			return exportPatch(ref);
		case 'running':
			return ref === undefined ? { progress: { pct: command.value } } : { progress: { pct: command.value }, ref };
	}
}

/** The id a choice names now (see `IdChoice`), other than those in `taken`. */
function resolveId(model: TaskModel, choice: IdChoice, taken: ReadonlySet<string> = new Set()): Id {
	if (typeof choice === 'string') return choice;
	const open = IDS.filter((id) => !taken.has(id));
	const fits = open.filter((id) => {
		const status = model.get(id)?.status;
		if (choice.pick === 'active') return status === 'running' || status === 'exporting';
		const final = status === 'succeeded' || status === 'failed' || status === 'stopped';
		return choice.pick === 'finished' ? final : status === undefined || final;
	});
	const from = fits.length > 0 ? fits : open.length > 0 ? open : IDS;
	return from[choice.n % from.length] as Id;
}

/**
 * The command with every id choice resolved against the model's state (what runs, and what the log shows). A
 * renew lists every task its owner holds, as a scheduler's renew does, unless `renewAnyIds` (see `RunOptions`).
 */
function resolve(model: TaskModel, command: Command, renewAnyIds: boolean): Command {
	switch (command.kind) {
		case 'add': {
			const taken = new Set<string>();
			const tasks = command.tasks.map((spec) => {
				const id = resolveId(model, spec.id, taken);
				taken.add(id);
				return { ...spec, id };
			});
			return { ...command, tasks };
		}
		case 'move':
		case 'requestStop':
		case 'remove':
			return { ...command, id: resolveId(model, command.id) };
		case 'renew': {
			const held = [...model.tasks.values()]
				.filter((t) => t.owner === command.owner && (t.status === 'running' || t.status === 'exporting'))
				.map((t) => t.id as Id);
			const listed = command.ids === 'held' ? held : renewAnyIds ? command.ids : [...held, ...command.ids];
			const ids = [...new Set([...listed, ...command.extra])];
			return { ...command, ids, extra: [] };
		}
		default:
			return command;
	}
}

const literal = (choice: IdChoice): Id => choice as Id;

export interface RunOptions {
	/** The container claims by priority, then arrival; without, any due tasks may be claimed (FIFO queue). */
	readonly priority: boolean;
	/** The controlled clock's start. */
	readonly start: number;
	/**
	 * Also `get` every id of the pool after every command: for containers whose `get` reads another store than
	 * `list` (the combined container reads memory, lists the persistent store).
	 */
	readonly getEach?: boolean;
	/**
	 * Let a renew leave out tasks its owner holds (which the container must then report as `unknown`). Off by
	 * default: a scheduler renews every task it runs, and a held task it does not know of comes only from a lost
	 * claim reply, which the model does not simulate. Redis diverges there (see docs/internals/state-machine.md).
	 */
	readonly renewAnyIds?: boolean;
}

/** Run `commands` on `container` and a fresh model; throws a `ModelMismatch` at the first difference. */
export async function runAgainstModel(
	container: TaskContainer,
	commands: readonly Command[],
	options: RunOptions,
): Promise<void> {
	const model = new TaskModel(options.priority);
	let now = options.start;
	const log: string[] = [];
	const fail = (diffs: string[]): never => {
		throw new ModelMismatch(
			`The container and the model differ after step ${log.length}:\n${diffs.map((d) => `  - ${d}`).join('\n')}\nSequence (clock starts at t0 = ${options.start}):\n${log.map((line, i) => `  ${i + 1}. ${line}`).join('\n')}`,
		);
	};
	for (const given of commands) {
		const command = resolve(model, given, options.renewAnyIds === true);
		let line = `[t0+${now - options.start}] ${formatCommand(command)}`;
		let diffs: string[] = [];
		switch (command.kind) {
			case 'add': {
				const made = command.tasks.map((spec, i) =>
					createTaskRecord(
						{
							id: literal(spec.id),
							item: { n: spec.item },
							priority: spec.priority,
							maxAttempts: spec.maxAttempts,
							runAt: now + spec.runAtIn,
						},
						`tasks[${i}]`,
						{ maxAttempts: 3 },
						now,
					),
				);
				const expected = model.add(made.map((task) => copyTask(task)));
				const actual = await outcome(() => container.add(made));
				diffs = outcomeDiffs('add', actual, expected, () => []);
				break;
			}
			case 'claim': {
				const due = model.due(now);
				const actual = await outcome(() => container.claim(command.max, command.owner, command.leaseMs, now));
				if (!actual.ok) {
					diffs = [`claim: threw ${actual.code}`];
					break;
				}
				const got = actual.value.map((t) => t.id);
				const dueIds = due.map((t) => t.id);
				const count = Math.min(command.max, due.length);
				let chosen = dueIds.slice(0, count);
				if (options.priority) {
					if (!isDeepStrictEqual([...got].sort(), [...chosen].sort()))
						diffs.push(
							`claim: claimed ${show(got)}, expected ${show(chosen)} (due in claim order: ${show(dueIds)})`,
						);
				} else if (
					got.length !== count ||
					new Set(got).size !== got.length ||
					got.some((id) => !dueIds.includes(id))
				) {
					diffs.push(`claim: claimed ${show(got)}, expected ${count} of the due tasks ${show(dueIds)}`);
				} else {
					chosen = got;
				}
				line += ` → ${show(got)}`;
				diffs.push(
					...listDiffs(
						'claim result',
						actual.value,
						model.claim(chosen, command.owner, command.leaseMs, now),
					),
				);
				break;
			}
			case 'move': {
				const id = literal(command.id);
				const current = model.get(id);
				let from: TaskStatus;
				let to: TaskStatus;
				if ('current' in command.move) {
					const legal = MOVES.filter(([f]) => f === (current?.status ?? 'running'));
					const options = legal.length > 0 ? legal : MOVES;
					[from, to] = options[command.move.current % options.length] as readonly [TaskStatus, TaskStatus];
				} else {
					({ from, to } = command.move);
				}
				const owner =
					command.owner === 'current' ? (current?.owner ?? undefined) : (command.owner ?? undefined);
				const patch = patchFor(command, from, to, current, now);
				line = `[t0+${now - options.start}] transition ${id} ${from}→${to} owner ${owner ?? '(none)'} patch ${show(patch)}`;
				const expected = model.transition(id, from, to, { ...patch }, owner);
				const actual = await outcome(() => container.transition(id, from, to, { ...patch }, owner));
				line += expected === null ? ' → null' : ' → moved';
				diffs = outcomeDiffs('transition', actual, { ok: true, value: expected }, (a, e) =>
					recordOrNull('transition result', a, e),
				);
				break;
			}
			case 'renew': {
				const ids = command.ids === 'held' ? [] : command.ids;
				const expected = model.renew(command.owner, ids, command.leaseMs, now);
				const actual = await outcome(() => container.renew(command.owner, ids, command.leaseMs, now));
				line += ` → lost ${show(expected.lost)} stop ${show(expected.stopRequested)}`;
				diffs = outcomeDiffs('renew', actual, { ok: true, value: expected }, (a, e) => {
					const out: string[] = [];
					const sorted = (ids: readonly string[] | undefined): string[] => [...(ids ?? [])].sort();
					if (!isDeepStrictEqual(sorted(a.lost), sorted(e.lost)))
						out.push(`renew: lost ${show(sorted(a.lost))}, expected ${show(sorted(e.lost))}`);
					if (!isDeepStrictEqual(sorted(a.stopRequested), sorted(e.stopRequested))) {
						out.push(
							`renew: stopRequested ${show(sorted(a.stopRequested))}, expected ${show(sorted(e.stopRequested))}`,
						);
					}
					// `unknown` is optional for in-process containers; when given it must be right.
					if (a.unknown !== undefined && !isDeepStrictEqual(sorted(a.unknown), sorted(e.unknown))) {
						out.push(`renew: unknown ${show(sorted(a.unknown))}, expected ${show(sorted(e.unknown))}`);
					}
					return out;
				});
				break;
			}
			case 'advance':
				now += command.ms;
				break;
			case 'reclaim': {
				const expected = model.reclaimExpired(now);
				const actual = await outcome(() => container.reclaimExpired(now));
				line += ` → ${show(expected.map((t) => `${t.id}:${t.status}`))}`;
				diffs = outcomeDiffs('reclaimExpired', actual, { ok: true, value: expected }, (a, e) =>
					listDiffs('reclaimExpired result', a, e),
				);
				break;
			}
			case 'requestStop': {
				const id = literal(command.id);
				const expected = model.requestStop(id);
				const actual = await outcome(() => container.requestStop(id));
				diffs = outcomeDiffs('requestStop', actual, { ok: true, value: expected }, (a, e) =>
					recordOrNull('requestStop result', a, e),
				);
				break;
			}
			case 'remove': {
				const id = literal(command.id);
				const expected = model.remove(id);
				const actual = await outcome(() => container.remove(id));
				diffs = outcomeDiffs('remove', actual, expected, (a, e) =>
					a === e ? [] : [`remove: returned ${a}, expected ${e}`],
				);
				break;
			}
			case 'get': {
				const actual = await outcome(() => container.get(command.id));
				diffs = outcomeDiffs('get', actual, { ok: true, value: model.get(command.id) }, (a, e) =>
					recordOrNull('get', a, e),
				);
				break;
			}
			case 'list': {
				const query = {
					...(command.status === null ? {} : { status: command.status }),
					offset: command.offset,
					limit: command.limit,
					order: command.order,
				};
				const actual = await outcome(() => container.list(query));
				diffs = outcomeDiffs('list', actual, { ok: true, value: model.list(query) }, (a, e) => {
					const ids = (page: typeof a): string[] => page.tasks.map((t) => t.id);
					if (a.total !== e.total || !isDeepStrictEqual(ids(a), ids(e)))
						return [
							`list ${show(query)}: ${show(ids(a))} of ${a.total}, expected ${show(ids(e))} of ${e.total}`,
						];
					return a.tasks.flatMap((task, i) =>
						recordDiffs(`list ${task.id}`, task, e.tasks[i] as TaskRecord, LOOSE),
					);
				});
				break;
			}
			case 'counts':
				break; // compared after every command
			case 'nextDueAt': {
				const actual = await outcome(() => container.nextDueAt(now));
				const expected = model.nextDueAt(now);
				// A container may answer now or earlier while a waiting task is due (claim at once): the SQL container
				// does for a delayed task that came due since its last promotion (see TaskContainer.nextDueAt).
				const dueNow = model.dueNow(now);
				diffs = outcomeDiffs('nextDueAt', actual, { ok: true, value: expected }, (a, e) =>
					a === e || (dueNow && typeof a === 'number' && a <= now)
						? []
						: [
								`nextDueAt: ${show(a)}, expected ${show(e)}${dueNow ? ' (or now or earlier: a task is due)' : ''}`,
							],
				);
				break;
			}
		}
		log.push(line);
		if (diffs.length > 0) fail(diffs);
		// Every stored record, in arrival order, and the counts.
		const stored = await outcome(() => container.list({ limit: 1_000 }));
		const expected = model.list({ limit: 1_000 });
		const stateDiffs = outcomeDiffs('list (state)', stored, { ok: true, value: expected }, (a, e) => {
			const ids = (page: typeof a): string[] => page.tasks.map((t) => t.id);
			if (!isDeepStrictEqual(ids(a), ids(e)))
				return [`stored tasks ${show(ids(a))}, expected ${show(ids(e))} (arrival order)`];
			return a.tasks.flatMap((task, i) =>
				recordDiffs(`stored ${task.id}`, task, e.tasks[i] as TaskRecord, LOOSE),
			);
		});
		const counts = await outcome(() => container.counts());
		stateDiffs.push(
			...outcomeDiffs('counts', counts, { ok: true, value: model.counts() }, (a, e) =>
				isDeepStrictEqual(a, e) ? [] : [`counts ${show(a)}, expected ${show(e)}`],
			),
		);
		if (options.getEach === true) {
			for (const id of IDS) {
				const got = await outcome(() => container.get(id));
				stateDiffs.push(
					...outcomeDiffs(`get ${id} (state)`, got, { ok: true, value: model.get(id) }, (a, e) =>
						recordOrNull(`get ${id} (state)`, a, e),
					),
				);
			}
		}
		if (stateDiffs.length > 0) fail(stateDiffs);
	}
}
