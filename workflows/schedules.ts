/**
 * Scheduled workflow runs: `flows.schedule({ key, definition, cron | every, ... })` keeps, in this process, one
 * timer to the schedule's next tick, computed by the repeating tasks' own rules (`tickAfter` of repeat-spec.ts).
 * At the tick `T` it starts the run `schedule:<key>:<T>`. Every process that declares the schedule does the same,
 * and the store refuses the second create of an id, so each tick makes one run however many processes declare
 * it and whatever their clocks say (`T` comes from the spec, not the clock). Nothing is stored but the runs.
 */
import { describeValue } from '../src/errors.js';
import { rejectUnknownOptions } from '../src/option-names.js';
import { checkRepeat, tickAfter, type RepeatOptions } from '../src/repeat-spec.js';
import { DuplicateRunError } from './errors.js';
import type { StartOptions } from './options.js';

/** What `flows.schedule` takes. Give `every` or `cron`. */
export interface ScheduleOptions {
	/** Names the schedule (at most 200 characters); its runs' ids are `schedule:<key>:<tick>`. */
	readonly key: string;
	/** The workflow definition each tick starts (defined in this process when the schedule is declared). */
	readonly definition: string;
	/** Tick every this many milliseconds (at least 10), at the multiples of it counted from the epoch. */
	readonly every?: number;
	/** A cron pattern (5 fields, or 6 with seconds first), e.g. `0 3 * * *`, as `scheduler.repeat` takes it. */
	readonly cron?: string;
	/** The IANA time zone of `cron` (e.g. `Europe/Paris`); the machine's when absent. */
	readonly tz?: string;
	/** Each run's vars (`start`'s `vars`). */
	readonly vars?: Readonly<Record<string, unknown>>;
	/** Each run's business key (`start`'s `key`). */
	readonly runKey?: string;
	/** `start`'s `unique` with `runKey`: a tick while an unfinished run holds the key starts nothing. */
	readonly unique?: boolean;
	/** The definition version to run. @default the latest defined in this process at each tick */
	readonly version?: number;
	/**
	 * When the schedule is declared, the latest tick before it (within a day) whose run does not exist: `'once'`
	 * starts it, `'skip'` does not. A schedule keeps no state, so a first declare cannot tell a missed tick from
	 * one before the schedule existed: `'once'` starts the latest tick's run on the first declare too.
	 * @default 'skip'
	 */
	readonly missed?: 'once' | 'skip';
}

/** A schedule as `flows.schedules()` lists it. */
export interface ScheduleInfo extends Omit<ScheduleOptions, 'missed'> {
	/** See `ScheduleOptions.missed`. */
	readonly missed: 'once' | 'skip';
	/** When this process starts the next run, or `null` when no tick is left. */
	readonly nextRunAt: number | null;
}

/** What `Schedules` needs of `Workflows`. */
export interface ScheduleHost {
	/** Check a start as `start` would (the definition defined, the version, the vars), throwing its error. */
	check(definition: string, options: StartOptions): void;
	start(definition: string, options: StartOptions): Promise<unknown>;
	/** A tick's start failed (not a refused duplicate). */
	error(error: Error): void;
}

const NAMES = ['key', 'definition', 'every', 'cron', 'tz', 'vars', 'runKey', 'unique', 'version', 'missed'];

/** How far back `missed: 'once'` looks for the latest tick. */
export const MISSED_WITHIN_MS = 24 * 60 * 60 * 1000;

/** setTimeout's longest delay; a later tick is waited for in steps of it. */
const MAX_DELAY_MS = 2_147_483_647;

interface Entry {
	readonly options: ScheduleOptions;
	readonly spec: RepeatOptions;
	next: number | null;
	timer: ReturnType<typeof setTimeout> | undefined;
}

/** This process's schedules: one timer each, to its next tick. */
export class Schedules {
	readonly #host: ScheduleHost;
	readonly #entries = new Map<string, Entry>();
	readonly #inFlight = new Set<Promise<void>>();
	#closed = false;

	constructor(host: ScheduleHost) {
		this.#host = host;
	}

	/** Check and declare a schedule (replacing this process's schedule of the same key). */
	declare(options: ScheduleOptions): ScheduleInfo {
		if (typeof options !== 'object' || options === null)
			throw new TypeError(`Expected the schedule to be an object, got ${describeValue(options)}`);
		rejectUnknownOptions('schedule', options, NAMES);
		const { key, definition, every, cron, tz, vars, runKey, unique, version, missed } = options;
		// The repeating tasks' checks of the key and the timing (one rule in one place); `item` is not ours.
		const spec = checkRepeat({ key, every, cron, tz, missed, item: null } as RepeatOptions, 1);
		if (typeof definition !== 'string' || definition === '')
			throw new TypeError(`Expected \`definition\` to be a workflow's name, got ${describeValue(definition)}`);
		if (runKey !== undefined && (typeof runKey !== 'string' || runKey === ''))
			throw new TypeError(`Expected \`runKey\` to be a non-empty string, got ${describeValue(runKey)}`);
		if (unique !== undefined && typeof unique !== 'boolean')
			throw new TypeError(`Expected \`unique\` to be a boolean, got ${describeValue(unique)}`);
		if (unique === true && runKey === undefined) throw new TypeError('`unique` needs a `runKey`');
		this.#host.check(definition, startOptions(options));
		const kept: ScheduleOptions = JSON.parse(
			JSON.stringify({ key, definition, every, cron, tz, vars, runKey, unique, version, missed }),
		) as ScheduleOptions;
		this.remove(key);
		const now = Date.now();
		const entry: Entry = { options: kept, spec, next: tickAfter(spec, now), timer: undefined };
		this.#entries.set(key, entry);
		if (missed === 'once') {
			const latest = latestTick(spec, now);
			if (latest !== null) this.#start(entry, latest);
		}
		this.#arm(entry);
		return info(entry);
	}

	/** Stop this process's schedule `key`. Returns whether it had one. */
	remove(key: string): boolean {
		const entry = this.#entries.get(key);
		if (entry === undefined) return false;
		clearTimeout(entry.timer);
		this.#entries.delete(key);
		return true;
	}

	/** This process's schedules with their next tick. */
	list(): ScheduleInfo[] {
		return [...this.#entries.values()].map(info);
	}

	/** Clear every timer; resolves once the starts in flight have ended. */
	async close(): Promise<void> {
		this.#closed = true;
		for (const key of [...this.#entries.keys()]) this.remove(key);
		await Promise.allSettled([...this.#inFlight]);
	}

	#arm(entry: Entry): void {
		if (this.#closed || entry.next === null) return;
		const due = entry.next;
		const delay = due - Date.now();
		entry.timer = setTimeout(
			() => {
				if (this.#entries.get(entry.options.key) !== entry) return;
				const now = Date.now();
				// Not yet (a delay beyond setTimeout's limit, or the clock set back): wait again.
				if (now < due) return this.#arm(entry);
				this.#start(entry, due);
				// The ticks a stalled process slept through are one run, the one of `due`.
				entry.next = tickAfter(entry.spec, now);
				this.#arm(entry);
			},
			Math.min(Math.max(0, delay), MAX_DELAY_MS),
		);
		// As the repeating tasks' ticker: a schedule alone does not keep the process alive.
		entry.timer.unref?.();
	}

	#start(entry: Entry, at: number): void {
		const started = this.#host
			.start(entry.options.definition, startOptions(entry.options, `schedule:${entry.options.key}:${at}`))
			.then(
				() => undefined,
				(error: unknown) => {
					// Another process started this tick's run (or `unique` refused it): the tick has its run.
					if (error instanceof DuplicateRunError || this.#closed) return;
					this.#host.error(error instanceof Error ? error : new Error(String(error)));
				},
			)
			.finally(() => this.#inFlight.delete(started));
		this.#inFlight.add(started);
	}
}

/** What `start` takes for a tick's run (`id` given), or for the declare's check of the rest. */
function startOptions(options: ScheduleOptions, id?: string): StartOptions {
	return {
		...(id === undefined ? {} : { id }),
		...(options.vars === undefined ? {} : { vars: options.vars }),
		...(options.runKey === undefined ? {} : { key: options.runKey }),
		...(options.unique === undefined ? {} : { unique: options.unique }),
		...(options.version === undefined ? {} : { version: options.version }),
	};
}

function info(entry: Entry): ScheduleInfo {
	return { ...entry.options, missed: entry.options.missed ?? 'skip', nextRunAt: entry.next };
}

/**
 * The latest tick at or before `now`, within `MISSED_WITHIN_MS`, or `null`. Found with `tickAfter` from windows
 * that grow (a second, a minute, an hour, a day back), so a frequent cron pattern is stepped through a few times.
 */
export function latestTick(spec: RepeatOptions, now: number): number | null {
	for (const window of [1000, 60_000, 3_600_000, MISSED_WITHIN_MS]) {
		let tick = tickAfter(spec, now - window - 1);
		if (tick === null || tick > now) continue;
		for (let next = tickAfter(spec, tick); next !== null && next <= now; next = tickAfter(spec, tick)) tick = next;
		return tick;
	}
	return null;
}
