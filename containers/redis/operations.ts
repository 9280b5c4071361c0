/**
 * A `RedisContainer`'s calls outside the claim and lease path: reading records (`get`, `list`, `counts`), the
 * operator's calls (`requestStop`, `remove`, pause, `clean`), task logs and repeat records. Each is one script or
 * command through the container's bounded call (call-guard.ts); the container delegates to this class.
 */
import { callToken } from './call-token.js';
import type { Redis } from 'ioredis';
import {
	assertCleanQuery,
	assertStorableTask,
	describeValue,
	DuplicateKeyError,
	DuplicateTaskError,
	InvalidStateError,
	isTaskStatus,
	logWindow,
	SchedulerClosedError,
	TASK_STATUSES,
	type CleanQuery,
	type RepeatRecord,
	type TaskCounts,
	type TaskLogPage,
	type TaskLogQuery,
	type TaskPage,
	type TaskQuery,
	type TaskRecord,
} from 'lightsched/kit';
import { decodeRecord, encodeForAdd, RECORD_FIELDS } from './codec.js';
import { APPEND_LOGS, GET_LOGS, LOG_LINES_PER_CALL } from './log-scripts.js';
import { CLEAN, CLEAN_EXPIRED, COUNTS, LIST, REMOVE, REQUEST_STOP, SET_PAUSED } from './operation-scripts.js';
import { isWellFormed } from './options.js';
import { ADVANCE_REPEAT, decodeRepeat, LIST_REPEATS, PUT_REPEAT, REMOVE_REPEAT } from './repeat-scripts.js';
import type { ClockedScript } from './scripts.js';

/** What the operations need of their container. */
export interface OperationsPort {
	readonly redis: Redis;
	readonly keyPrefix: string;
	/** Run a script (the variant of the container's clock), bounded. */
	run(script: ClockedScript, args: readonly string[], scale?: number): Promise<unknown>;
	/** One bounded command. */
	call<T>(what: string, command: () => Promise<T>): Promise<T>;
	closed(): boolean;
}

export class RedisOperations {
	readonly #port: OperationsPort;

	constructor(port: OperationsPort) {
		this.#port = port;
	}

	async requestStop(id: string): Promise<TaskRecord | null> {
		if (!isWellFormed(id)) return null;
		const reply = (await this.#port.run(REQUEST_STOP, [id])) as (string | null)[] | null;
		return reply === null ? null : decodeRecord(reply);
	}

	async get(id: string): Promise<TaskRecord | null> {
		if (!isWellFormed(id)) return null;
		const values = await this.#port.call('get', () =>
			this.#port.redis.hmget(`${this.#port.keyPrefix}t:${id}`, ...RECORD_FIELDS),
		);
		return values[RECORD_FIELDS.indexOf('status')] == null ? null : decodeRecord(values);
	}

	async list(query: TaskQuery = {}): Promise<TaskPage> {
		const { offset = 0, limit = 100, order = 'asc' } = query;
		if (order !== 'asc' && order !== 'desc') {
			throw new TypeError(`Expected \`order\` to be 'asc' or 'desc', got ${describeValue(order)}`);
		}
		if (query.exactTotal !== undefined && typeof query.exactTotal !== 'boolean')
			throw new TypeError(`Expected \`exactTotal\` to be a boolean, got ${describeValue(query.exactTotal)}`);
		const given =
			query.status === undefined ? [] : typeof query.status === 'string' ? [query.status] : [...query.status];
		for (const status of given) {
			if (!isTaskStatus(status)) {
				throw new TypeError(
					`Expected \`status\` to be one of ${TASK_STATUSES.join(', ')}, got ${describeValue(status)}`,
				);
			}
		}
		const statuses = [...new Set(given)];
		if (query.status !== undefined && statuses.length === 0) return { tasks: [], total: 0, more: false };
		// The total is a few ZCARDs in the same script as the page (cheap and consistent): exact even when
		// `exactTotal` is false.
		const reply = (await this.#port.run(LIST, [order, String(offset), String(limit), ...statuses])) as [
			number,
			(string | null)[][],
		];
		const total = Number(reply[0]);
		const tasks = reply[1].map(decodeRecord);
		return { total, tasks, more: Math.max(0, Math.floor(offset)) + tasks.length < total };
	}

	async counts(): Promise<TaskCounts> {
		const reply = (await this.#port.run(COUNTS, [])) as number[];
		const counts = {} as TaskCounts;
		TASK_STATUSES.forEach((status, i) => {
			counts[status] = Number(reply[i] ?? 0);
		});
		return counts;
	}

	async remove(id: string): Promise<boolean> {
		if (!isWellFormed(id)) return false;
		const reply = (await this.#port.run(REMOVE, [id])) as number | string;
		if (typeof reply === 'string')
			throw new InvalidStateError(`Task \`${id}\` is ${reply}: stop it before removing it`);
		return reply === 1;
	}

	async setPaused(paused: boolean): Promise<void> {
		await this.#port.run(SET_PAUSED, [paused ? '1' : '0']);
	}

	async isPaused(): Promise<boolean> {
		return (
			(await this.#port.call('isPaused', () => this.#port.redis.exists(`${this.#port.keyPrefix}paused`))) === 1
		);
	}

	async clean(query: CleanQuery): Promise<string[]> {
		assertCleanQuery(query);
		const { status, limit, keep, finishedBefore, expiredBy } = query;
		if (expiredBy !== undefined) {
			const ids = (query.ids ?? []).filter((id) => isWellFormed(id));
			if (query.ids !== undefined && ids.length === 0) return [];
			const args = [status, String(limit), String(Math.floor(expiredBy)), ...ids];
			return (await this.#port.run(CLEAN_EXPIRED, args, Math.ceil(limit / 1000))) as string[];
		}
		const args = [status, String(limit), keep === undefined ? '' : String(keep)];
		args.push(finishedBefore === undefined ? '' : String(Math.floor(finishedBefore)));
		args.push(query.exceptOwnRule === true ? '1' : '');
		return (await this.#port.run(CLEAN, args, Math.ceil(limit / 1000))) as string[];
	}

	async appendLogs(id: string, lines: readonly string[], maxLines: number): Promise<void> {
		if (!isWellFormed(id)) return;
		for (let i = 0; i < lines.length; i += LOG_LINES_PER_CALL) {
			const part = lines.slice(i, i + LOG_LINES_PER_CALL);
			await this.#port.run(APPEND_LOGS, [id, String(maxLines), ...part]);
		}
	}

	async getLogs(id: string, query: TaskLogQuery = {}): Promise<TaskLogPage> {
		logWindow(0, 0, query); // the query's checks
		if (!isWellFormed(id)) return { lines: [], offset: 0, total: 0, dropped: 0 };
		const offset = query.offset === undefined ? '' : String(query.offset);
		const reply = (await this.#port.run(GET_LOGS, [id, offset, String(query.limit ?? 100)])) as [
			number,
			number,
			number,
			string[],
		];
		return { offset: reply[0], total: reply[1], dropped: reply[2], lines: reply[3] };
	}

	async putRepeat(repeat: RepeatRecord, expected: RepeatRecord | null): Promise<boolean> {
		if (this.#port.closed()) throw new SchedulerClosedError('container');
		const { key, spec, nextRunAt, createdAt, updatedAt } = repeat;
		const time = (at: number | null): string => (at === null ? '' : String(at));
		const args = [key, JSON.stringify(spec), time(nextRunAt), String(createdAt), String(updatedAt)];
		args.push(...(expected === null ? ['0'] : ['1', time(expected.nextRunAt), String(expected.updatedAt)]));
		return (await this.#port.run(PUT_REPEAT, args)) === 1;
	}

	async getRepeat(key: string): Promise<RepeatRecord | null> {
		const values = await this.#port.call('getRepeat', () =>
			this.#port.redis.hmget(`${this.#port.keyPrefix}r:${key}`, 'spec', 'nextRunAt', 'createdAt', 'updatedAt'),
		);
		return values[0] === null ? null : decodeRepeat([key, ...values]);
	}

	async listRepeats(): Promise<RepeatRecord[]> {
		return ((await this.#port.run(LIST_REPEATS, [])) as (string | null)[][]).map(decodeRepeat);
	}

	async removeRepeat(key: string): Promise<boolean> {
		return (await this.#port.run(REMOVE_REPEAT, [key])) === 1;
	}

	async advanceRepeat(key: string, expected: number, next: number | null, task: TaskRecord | null): Promise<boolean> {
		if (this.#port.closed()) throw new SchedulerClosedError('container');
		const args = [key, String(expected), next === null ? '' : String(next), String(Date.now())];
		if (task !== null) {
			assertStorableTask(task, 0);
			args.push(String(Date.now()), callToken(), ...encodeForAdd(task));
		}
		const reply = (await this.#port.run(ADVANCE_REPEAT, args)) as string[];
		if (reply[0] === 'dup') throw new DuplicateTaskError(reply[1] ?? '');
		if (reply[0] === 'dupkey') throw duplicateKey(reply);
		return reply[0] === 'moved';
	}
}

/** The error of an add script's {'dupkey', key as stored (JSON text), holder id} reply. */
export function duplicateKey(reply: readonly unknown[]): DuplicateKeyError {
	return new DuplicateKeyError(JSON.parse(String(reply[1])) as string, String(reply[2]));
}
