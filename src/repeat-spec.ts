/**
 * Repeating tasks: what `Scheduler.repeat` takes, how it is checked, and when its ticks fall. An interval
 * (`every`) ticks at the multiples of it counted from `startAt` (or the epoch), so every process agrees on the
 * ticks; a cron pattern (`cron`, with an optional IANA time zone `tz`) ticks as croner computes it, daylight saving
 * time included. The spec is stored as plain JSON in the container (`RepeatRecord.spec`).
 */
import { Cron } from 'croner';
import { describeValue } from './errors.js';
import { assertJsonItem, assertWellFormed } from './json-check.js';
import { createTaskRecord } from './new-task.js';
import { rejectUnknownOptions } from './option-names.js';
import type { RepeatRecord } from './repeat-record.js';
import type { TaskRetention } from './task.js';

/** What `Scheduler.repeat` takes. Give `every` or `cron`. */
export interface RepeatOptions<TItem = unknown> {
	/** Names the repeat (unique in the container): `repeat` with the same key replaces it. */
	readonly key: string;
	/** Tick every this many milliseconds (at least 10), at the multiples of it counted from `startAt` or the epoch. */
	readonly every?: number;
	/** A cron pattern (5 fields, or 6 with seconds first), e.g. `0 3 * * *` (croner's syntax). */
	readonly cron?: string;
	/** The IANA time zone of `cron` (e.g. `Europe/Berlin`); the machine's when absent. */
	readonly tz?: string;
	/** Each tick's task's item. */
	readonly item: TItem;
	/** Each tick's task's priority. */
	readonly priority?: number;
	/** Each tick's task's attempts. */
	readonly maxAttempts?: number;
	/** Each tick's task's time limit per attempt. */
	readonly timeoutMs?: number;
	/** Each tick's task's own retention rule (`NewTask.retention`): e.g. `{ succeeded: 0 }` keeps no succeeded tick. */
	readonly retention?: TaskRetention;
	/** No tick before this time (milliseconds since the epoch). */
	readonly startAt?: number;
	/** No tick after this time; the repeat then stays listed with no next run. */
	readonly endAt?: number;
	/**
	 * Ticks missed while no scheduler ran (more than one tick overdue): `'once'` runs one task for all of them,
	 * `'skip'` runs none; either way the schedule goes on from now.
	 * @default 'once'
	 */
	readonly missed?: 'once' | 'skip';
}

/** A stored repeat as `repeats()` lists it: its definition and when it ticks next. */
export interface RepeatInfo<TItem = unknown> extends Omit<RepeatOptions<TItem>, 'missed'> {
	/** See `RepeatOptions.missed`. */
	readonly missed: 'once' | 'skip';
	/** When the next tick is due, or `null` when none is left (past `endAt`). */
	readonly nextRunAt: number | null;
	/** When the repeat was first stored. */
	readonly createdAt: number;
	/** When it last changed (a tick, or `repeat` again). */
	readonly updatedAt: number;
}

const NAMES = [
	'key',
	'every',
	'cron',
	'tz',
	'item',
	'priority',
	'maxAttempts',
	'timeoutMs',
	'retention',
	'startAt',
	'endAt',
	'missed',
];

/** Check `repeat`'s options (a clear error naming the field) and return the spec to store. */
export function checkRepeat<TItem>(options: RepeatOptions<TItem>, maxAttempts: number): RepeatOptions<TItem> {
	if (typeof options !== 'object' || options === null) {
		throw new TypeError(`Expected the repeat to be an object, got ${describeValue(options)}`);
	}
	rejectUnknownOptions('repeat', options as object, NAMES);
	const { key, every, cron, tz, startAt, endAt, missed } = options;
	if (typeof key !== 'string' || key.length === 0 || key.length > 200) {
		throw new TypeError(
			`Expected \`key\` to be a non-empty string of at most 200 characters, got ${describeValue(key)}`,
		);
	}
	assertWellFormed(key, 'key');
	if ((every === undefined) === (cron === undefined)) {
		throw new TypeError('Expected exactly one of `every` (milliseconds) and `cron` (a pattern)');
	}
	if (every !== undefined && (!Number.isInteger(every) || every < 10)) {
		throw new TypeError(`Expected \`every\` to be an integer >= 10 (milliseconds), got ${describeValue(every)}`);
	}
	if (tz !== undefined && cron === undefined) throw new TypeError('`tz` applies to `cron` only');
	if (cron !== undefined) cronOf(cron, tz).nextRun();
	for (const [name, value] of [
		['startAt', startAt],
		['endAt', endAt],
	] as const) {
		if (value !== undefined && !Number.isSafeInteger(value)) {
			throw new TypeError(`Expected \`${name}\` to be a time in milliseconds, got ${describeValue(value)}`);
		}
	}
	if (missed !== undefined && missed !== 'once' && missed !== 'skip') {
		throw new TypeError(`Expected \`missed\` to be 'once' or 'skip', got ${describeValue(missed)}`);
	}
	// The task fields as a tick's task will have them, checked by the same rules as `add`.
	createTaskRecord(tickTask(options, 0), 'repeat', { maxAttempts }, Date.now());
	assertJsonItem(options.item, 'item');
	const spec: Record<string, unknown> = {};
	for (const name of NAMES) {
		const value = (options as unknown as Record<string, unknown>)[name];
		if (value !== undefined) spec[name] = value;
	}
	return spec as unknown as RepeatOptions<TItem>;
}

function cronOf(pattern: string, tz: string | undefined): Cron {
	if (typeof pattern !== 'string')
		throw new TypeError(`Expected \`cron\` to be a string, got ${describeValue(pattern)}`);
	if (tz !== undefined && typeof tz !== 'string')
		throw new TypeError(`Expected \`tz\` to be a string, got ${describeValue(tz)}`);
	try {
		const cron = new Cron(pattern, { paused: true, ...(tz === undefined ? {} : { timezone: tz }) });
		cron.nextRun();
		return cron;
	} catch (error) {
		const field = tz !== undefined && /timezone/i.test(String(error)) ? `\`tz\` (${tz})` : `\`cron\` (${pattern})`;
		throw new TypeError(`Expected ${field} to be valid: ${error instanceof Error ? error.message : String(error)}`);
	}
}

/** The first tick strictly after `after`, or `null` when none is left. */
export function tickAfter(spec: RepeatOptions, after: number): number | null {
	const from = spec.startAt === undefined ? after : Math.max(after, spec.startAt - 1);
	let next: number | null;
	if (spec.every !== undefined) {
		const anchor = spec.startAt ?? 0;
		next = anchor + (Math.floor((from - anchor) / spec.every) + 1) * spec.every;
	} else {
		next =
			cronOf(spec.cron as string, spec.tz)
				.nextRun(new Date(from))
				?.getTime() ?? null;
	}
	return next !== null && spec.endAt !== undefined && next > spec.endAt ? null : next;
}

/** What one tick does: add a task for the tick at `fire` (or none), and move the next tick to `next`. */
export interface TickPlan {
	readonly fire: number | null;
	readonly next: number | null;
}

/** The plan for a repeat whose tick `due` has come, at `now`. */
export function planTick(spec: RepeatOptions, due: number, now: number): TickPlan {
	const following = tickAfter(spec, due);
	if (following === null || following > now) return { fire: due, next: following };
	// More than one tick overdue: nobody ran them. One task for all of them, or none; then on from now.
	return { fire: (spec.missed ?? 'once') === 'once' ? due : null, next: tickAfter(spec, now) };
}

/** The new task of a repeat's tick at `at`: its id names the repeat and the tick, so a tick has one task. */
export function tickTask<TItem>(spec: RepeatOptions<TItem>, at: number): Parameters<typeof createTaskRecord<TItem>>[0] {
	return {
		id: `repeat:${spec.key}:${at}`,
		item: spec.item,
		runAt: at,
		...(spec.priority === undefined ? {} : { priority: spec.priority }),
		...(spec.maxAttempts === undefined ? {} : { maxAttempts: spec.maxAttempts }),
		...(spec.timeoutMs === undefined ? {} : { timeoutMs: spec.timeoutMs }),
		...(spec.retention === undefined ? {} : { retention: spec.retention }),
	};
}

/** A stored repeat as the scheduler shows it. */
export function repeatInfo<TItem>(record: RepeatRecord): RepeatInfo<TItem> {
	const spec = record.spec as RepeatOptions<TItem>;
	return {
		...spec,
		missed: spec.missed ?? 'once',
		nextRunAt: record.nextRunAt,
		createdAt: record.createdAt,
		updatedAt: record.updatedAt,
	};
}

/** Whether two specs are the same definition (then `repeat` keeps the stored next tick). */
export function sameSpec(a: unknown, b: unknown): boolean {
	return JSON.stringify(a) === JSON.stringify(b);
}
