/**
 * `readChanges` on Redis: one script registers the follower (refreshing `P followers`) and reads the stream after
 * the cursor, telling a gap; when there is nothing new, an `XREAD BLOCK` on a connection of its own (a blocking
 * read would hold up every other command of the container's connection) waits for the next entry, bounded, so
 * a follower is woken by the very write of the change. A connection that breaks rejects the read; the follower
 * reads again from its cursor, so it loses nothing the stream still holds.
 */
import type { Redis } from 'ioredis';
import {
	ContainerError,
	FOLLOW_WINDOW_MS,
	TASK_CHANGE_TYPES,
	type TaskChange,
	type TaskChangePage,
	type TaskChangeQuery,
	type TaskChangeType,
} from 'lightsched/kit';
import { READ_CHANGES_BODY } from './change-event-scripts.js';
import { decodeRecord, storedValues } from './codec.js';
import { script, type ClockedScript } from './scripts.js';

export const READ_CHANGES = script('readChanges', READ_CHANGES_BODY);

/** What the reader needs of its container. */
export interface ChangeReaderParts {
	/** Run a script of the container (bounded, with its key prefix). */
	readonly run: (script: ClockedScript, args: readonly string[]) => Promise<unknown>;
	/** A new connection to the same server, for blocking reads. */
	readonly connect: () => Redis;
	/** The stream's key. */
	readonly key: string;
	/** Names the container in errors (read when one is made). */
	readonly where: () => string;
	/** How long a call may go unanswered beyond its block. */
	readonly commandTimeoutMs: number;
}

type Entry = [id: string, fields: string[]];

/** A cursor: the entry's stream id and its number (`<ms>-<seq>:<n>`). */
const CURSOR = /^\d+-\d+:\d+$/;
const streamId = (cursor: string): string => cursor.slice(0, cursor.indexOf(':'));
const entryNumber = (cursor: string): number => Number(cursor.slice(cursor.indexOf(':') + 1));

export class RedisChangeReader {
	readonly #parts: ChangeReaderParts;
	/** Idle blocking connections, and those in use. */
	readonly #idle: Redis[] = [];
	readonly #busy = new Set<Redis>();
	#closed = false;

	constructor(parts: ChangeReaderParts) {
		this.#parts = parts;
	}

	async read(query: TaskChangeQuery): Promise<TaskChangePage> {
		const after = query.after;
		if (after !== null && !CURSOR.test(after)) {
			throw new TypeError(`Expected \`after\` to be a cursor this container handed out, got ${after}`);
		}
		const reply = (await this.#parts.run(READ_CHANGES, [
			after ?? '',
			String(query.limit),
			String(FOLLOW_WINDOW_MS),
		])) as [string, number, number, Entry[]];
		const [now, lapsed, trimmed, entries] = reply;
		if (after === null) return { changes: [], next: now, gap: false };
		let gap = lapsed === 1 || trimmed === 1;
		let changes = entries.map(decodeEntry);
		if (changes.length === 0 && query.waitMs > 0 && query.signal?.aborted !== true && !this.#closed) {
			// Resume after the newest entry when the cursor was past it (a gap), else after the cursor.
			const base = gap ? now : after;
			changes = (await this.#block(streamId(base), query)).map(decodeEntry);
			// Trimmed while waiting: the first entry is not the next number.
			const first = changes[0];
			if (first !== undefined && entryNumber(first.cursor) > entryNumber(base) + 1) gap = true;
		}
		return { changes, next: changes.at(-1)?.cursor ?? (gap ? now : after), gap };
	}

	/** Wait (bounded) for the entries after `after` on a connection of its own. */
	async #block(after: string, query: TaskChangeQuery): Promise<Entry[]> {
		const connection = this.#idle.pop() ?? this.#connect();
		this.#busy.add(connection);
		let broken = false;
		// ioredis may never settle a command queued while it reconnects, even once disconnected: the read ends
		// on its own when aborted or overdue, whatever the connection does.
		let cut: (error: Error) => void = () => {};
		const ended = new Promise<never>((_, reject) => {
			cut = reject;
		});
		const abort = (): void => {
			broken = true;
			connection.disconnect();
			cut(new Error('the blocking read was cut (aborted, or unanswered in time)'));
		};
		const limit = setTimeout(abort, query.waitMs + this.#parts.commandTimeoutMs);
		query.signal?.addEventListener('abort', abort, { once: true });
		try {
			const sent = connection.call(
				'XREAD',
				'COUNT',
				String(query.limit),
				'BLOCK',
				String(query.waitMs),
				'STREAMS',
				this.#parts.key,
				after,
			);
			sent.catch(() => {}); // settled after the cut, if ever
			const reply = (await Promise.race([sent, ended])) as unknown[] | null;
			// One stream read: [[key, entries]] (some servers answer [key, entries]).
			if (reply === null || reply.length === 0) return [];
			const stream = (typeof reply[0] === 'string' ? reply : reply[0]) as [string, Entry[]];
			return Array.isArray(stream[1]) ? stream[1] : [];
		} catch (error) {
			if (query.signal?.aborted === true || this.#closed) return [];
			throw new ContainerError(`${this.#parts.where()}: reading task changes failed`, { cause: error });
		} finally {
			clearTimeout(limit);
			query.signal?.removeEventListener('abort', abort);
			this.#busy.delete(connection);
			if (broken || this.#closed || connection.status !== 'ready') connection.disconnect();
			else this.#idle.push(connection);
		}
	}

	#connect(): Redis {
		const connection = this.#parts.connect();
		connection.on('error', () => {});
		return connection;
	}

	close(): void {
		this.#closed = true;
		for (const connection of [...this.#idle, ...this.#busy]) connection.disconnect();
		this.#idle.length = 0;
	}
}

function decodeEntry([cursor, fields]: Entry): TaskChange {
	const get = (name: string): string | undefined => {
		for (let i = 0; i < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
		return undefined;
	};
	const type = get('t') as TaskChangeType;
	if (!TASK_CHANGE_TYPES.includes(type)) throw new ContainerError(`Unknown task change type ${String(type)}`);
	const change: { -readonly [K in keyof TaskChange]: TaskChange[K] } = {
		cursor: `${cursor}:${get('k') ?? '0'}`,
		id: get('i') ?? '',
		type,
		at: Number(get('a')),
		attempts: Number(get('n') ?? 0),
	};
	const data = get('d');
	const value = data === undefined || data === '' ? null : (JSON.parse(data) as unknown);
	if (type === 'succeeded') change.output = value;
	else if (type === 'failed' || type === 'retrying') change.error = value as TaskChange['error'] & object;
	else if (type === 'progress') change.progress = value;
	const record = get('r');
	if (record !== undefined) change.record = decodeRecord(storedValues(JSON.parse(record) as (string | false)[]));
	return change;
}
