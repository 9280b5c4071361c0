/**
 * A container with tasks in every final status for the dashboard tests, on SQLite or Redis, run by a worker
 * scheduler of its own (as another process would): `ok-*` succeed with an output and a log line, `fail-*` fail,
 * `slow-*` run until stopped, and one task whose id and item are HTML.
 */
import { Scheduler, type TaskContainer } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { RedisContainer } from 'lightsched/containers/redis';
import { SqlContainer } from 'lightsched/containers/sql';
import { startRedis, type RedisServer } from '../support/redis.js';
import { sqliteBackend, type SqlBackend } from '../support/sql.js';

export const XSS_ID = `x"'><img src=x onerror=alert(1)>`;
export const XSS_ITEM = { kind: 'ok', html: '<script>alert(2)</script><b>bold</b>' };

export type Item = { kind: 'ok' | 'fail' | 'slow'; n?: number; html?: string };

/** The backend under test. */
export interface Backend {
	readonly name: 'SQLite' | 'Redis';
	/** A new container on a fresh database (or a fresh Redis name). */
	container(): Promise<TaskContainer>;
	stop(): Promise<void>;
}

export async function openBackend(name: 'SQLite' | 'Redis'): Promise<Backend> {
	if (name === 'SQLite') {
		const sql: SqlBackend = sqliteBackend();
		return {
			name,
			container: async () => new SqlContainer({ knex: await sql.freshDatabase() }),
			stop: () => sql.stop(),
		};
	}
	const redis: RedisServer = await startRedis();
	let n = 0;
	return {
		name,
		container: async () => new RedisContainer({ redis: redis.url, name: `dash${++n}`, log: false }),
		stop: () => redis.close(),
	};
}

/** The worker that runs the fixture's tasks. */
export function worker(container: TaskContainer): Scheduler<Item, unknown> {
	return new Scheduler<Item, unknown>({
		container,
		concurrency: 8,
		maxAttempts: 1,
		leaseMs: 5_000,
		actuator: new FunctionActuator<Item, unknown>(async (item, ctx) => {
			ctx.log(`line for ${ctx.task.id}`);
			if (item.kind === 'fail') throw new Error(`failed on purpose (${ctx.task.id})`);
			if (item.kind === 'slow') {
				ctx.progress({ done: 1, of: 10 });
				await new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)));
			}
			return { doubled: (item.n ?? 0) * 2, html: item.html ?? null };
		}),
	});
}

/** Add the fixture's tasks and wait until all but the slow ones finished. */
export async function fill(scheduler: Scheduler<Item, unknown>): Promise<void> {
	const finished = scheduler.finished();
	await scheduler.add([
		...Array.from({ length: 12 }, (_, n) => ({ id: `ok-${n}`, item: { kind: 'ok' as const, n } })),
		...Array.from({ length: 5 }, (_, n) => ({ id: `fail-${n}`, item: { kind: 'fail' as const, n } })),
		{ id: 'slow-1', item: { kind: 'slow' as const }, key: 'slow-key' },
		{ id: 'slow-2', item: { kind: 'slow' as const } },
		{ id: XSS_ID, item: XSS_ITEM as Item },
	]);
	let n = 0;
	for await (const _task of finished) if (++n === 18) break;
}
