/**
 * Tasks' own retention rules (`NewTask.retention`, issue 14 item 1) through the scheduler, on every backend: the
 * in-memory containers, SQLite, PostgreSQL, Redis and the combined container. A task kept 0 ms is deleted by the
 * scheduler that finished it, after a pending `waitFor` got its final record; a task's own rule outlives the
 * scheduler's stricter `retention` option (and an explicit `clean` still deletes it); a rule lapses with no
 * `retention` option anywhere, deleted by whichever scheduler on the store runs its pass; a task a lease sweep
 * fails keeps its rule; the combined container keeps the field across its restore from SQL; bad rules are refused
 * naming the field.
 */
import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
	InvalidTaskError,
	Scheduler,
	WaitTimeoutError,
	type Persistencer,
	type SchedulerOptions,
	type TaskContainer,
	type TasksCleanedEvent,
} from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { CombinedContainer } from 'lightsched/containers/combined';
import { OrderedMapContainer } from 'lightsched/containers/ordered-map';
import { QueueContainer } from 'lightsched/containers/queue';
import { RedisContainer } from 'lightsched/containers/redis';
import { SqlContainer } from 'lightsched/containers/sql';
import { createTaskRecord } from 'lightsched/kit';
import { JsonMapContainer } from '../../examples/custom-container/json-map-container.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { postgresBackend, sqliteBackend, type SqlBackend } from '../support/sql.js';

/** A backend: `store()` makes a fresh store and gives a maker of containers on it (several for shared ones). */
interface Backend {
	readonly name: string;
	readonly shared: boolean;
	store(): Promise<() => Promise<TaskContainer>>;
}

const sqlite = sqliteBackend();
let pg: SqlBackend;
let redis: RedisServer;
let n = 0;

const BACKENDS: Backend[] = [
	{
		name: 'queue',
		shared: false,
		store: async () => async () => new QueueContainer({ keepFinished: Number.POSITIVE_INFINITY }),
	},
	{ name: 'ordered-map', shared: false, store: async () => async () => new OrderedMapContainer() },
	{
		name: 'sqlite',
		shared: true,
		store: async () => {
			const config = await sqlite.freshDatabase();
			return async () => new SqlContainer({ knex: config });
		},
	},
	{
		name: 'postgres',
		shared: true,
		store: async () => {
			const config = await pg.freshDatabase();
			return async () => new SqlContainer({ knex: config as Knex.Config });
		},
	},
	{
		name: 'redis',
		shared: true,
		store: async () => {
			const name = `retain${process.pid}-${++n}`;
			return async () => new RedisContainer({ redis: redis.url, name, log: false });
		},
	},
	{
		name: 'combined(queue+sqlite)',
		shared: false,
		store: async () => {
			const config = await sqlite.freshDatabase();
			return async () => new CombinedContainer(new QueueContainer(), new SqlContainer({ knex: config }));
		},
	},
];

beforeAll(async () => {
	pg = await postgresBackend();
	redis = await startRedis();
}, 120_000);

afterAll(async () => {
	await redis?.close();
	await pg?.stop();
	await sqlite.stop();
});

const opened: Scheduler<string, string>[] = [];

function scheduler(
	container: TaskContainer,
	extra: Partial<SchedulerOptions<string, string>> = {},
): Scheduler<string, string> {
	const s = new Scheduler<string, string>({
		container,
		concurrency: 4,
		leaseMs: 1_000,
		actuator: new FunctionActuator(async (item: string) => {
			if (item.startsWith('fail')) throw new Error(`asked: ${item}`);
			if (item.startsWith('slow')) await new Promise((resolve) => setTimeout(resolve, 200));
			return item.toUpperCase();
		}),
		maxAttempts: 1,
		...extra,
	});
	opened.push(s);
	return s;
}

async function closeAll(): Promise<void> {
	for (const s of opened.splice(0)) await s.close();
}

/** Wait (bounded) until `done()` holds; the caller's expectation then says whether it came. */
async function until(done: () => Promise<boolean> | boolean, ms = 5_000): Promise<void> {
	const end = Date.now() + ms;
	while (Date.now() < end && !(await done())) await new Promise((resolve) => setTimeout(resolve, 20));
}

/** A persistencer keeping outputs in a map, to see them deleted with their tasks. */
function mapPersistencer(): Persistencer<string> & { readonly outputs: Map<string, string> } {
	const outputs = new Map<string, string>();
	return {
		outputs,
		persist: (task, output) => void outputs.set(task.id, output),
		get: async (id) => outputs.get(id) ?? null,
		delete: async (id) => void outputs.delete(id),
	};
}

describe.each(BACKENDS)('task retention on $name', (backend) => {
	it('deletes a task kept 0 ms once it succeeds, after a pending waitFor got its final record', async () => {
		const make = await backend.store();
		const persistencer = mapPersistencer();
		const s = scheduler(await make(), { persistencer });
		const cleaned: TasksCleanedEvent[] = [];
		s.on('tasks:cleaned', (event) => cleaned.push(event));
		try {
			await s.pause();
			const [gone, kept] = await s.add([
				{ id: 'gone', item: 'slow-a', retention: { succeeded: 0 } },
				{ id: 'kept', item: 'slow-b' },
			]);
			expect(gone?.retention).toEqual({ succeeded: 0 });
			expect(kept?.retention).toBeNull();
			const waiting = s.waitFor('gone', { timeoutMs: 20_000 });
			// The waiter follows before the task runs.
			await new Promise((resolve) => setTimeout(resolve, 300));
			s.resume();
			const done = await waiting;
			expect(done).toMatchObject({ id: 'gone', status: 'succeeded', output: 'SLOW-A' });
			// The persisted output goes right after the task (as with clean).
			await until(async () => (await s.get('gone')) === null && !persistencer.outputs.has('gone'));
			expect(await s.get('gone')).toBeNull();
			expect(persistencer.outputs.has('gone')).toBe(false);
			await until(async () => (await s.get('kept'))?.status === 'succeeded');
			expect(await s.get('kept')).toMatchObject({ status: 'succeeded', retention: null });
			expect(persistencer.outputs.get('kept')).toBe('SLOW-B');
			expect(cleaned).toEqual([{ status: 'succeeded', ids: ['gone'], background: true }]);
			// A waitFor on the deleted id cannot tell a deleted task from one never added: it says so when it gives up.
			const late = await s.waitFor('gone', { timeoutMs: 300 }).catch((error: unknown) => error);
			expect(late).toBeInstanceOf(WaitTimeoutError);
			expect((late as WaitTimeoutError).found).toBe(false);
			expect((late as Error).message).toMatch(/no task with this id was found while waiting.*retention rule/);
		} finally {
			await closeAll();
		}
	});

	it("keeps a task by its own rule through the scheduler's stricter retention option; an explicit clean deletes it", async () => {
		const make = await backend.store();
		const s = scheduler(await make(), { retention: { failed: { maxAgeMs: 0 }, intervalMs: 20 } });
		try {
			await s.add([
				{ id: 'own', item: 'fail-own', retention: { failed: 60_000 } },
				{ id: 'other-status', item: 'fail-other', retention: { succeeded: 60_000 } },
				{ id: 'plain', item: 'fail-plain' },
			]);
			await until(async () => (await s.get('plain')) === null && (await s.get('other-status')) === null);
			expect(await s.get('plain')).toBeNull();
			expect(await s.get('other-status')).toBeNull();
			// Several passes later, still there.
			await new Promise((resolve) => setTimeout(resolve, 200));
			expect(await s.get('own')).toMatchObject({ status: 'failed', retention: { failed: 60_000 } });
			expect(await s.clean({ status: 'failed' })).toBe(1);
			expect(await s.get('own')).toBeNull();
		} finally {
			await closeAll();
		}
	});

	it("gives a repeat's ticks its rule: succeeded ticks kept 0 ms are gone, a bad rule is refused", async () => {
		const make = await backend.store();
		const s = scheduler(await make());
		const ran: string[] = [];
		s.on('task:succeeded', ({ task }) => ran.push(task.id));
		try {
			await expect(s.repeat({ key: 'bad', every: 50, item: 'a', retention: { succeeded: -1 } })).rejects.toThrow(
				/`repeat.retention.succeeded`/,
			);
			await s.repeat({ key: 'beat', every: 50, item: 'tick', retention: { succeeded: 0 } });
			await until(() => ran.length >= 2);
			await s.removeRepeat('beat');
			expect(ran.length).toBeGreaterThanOrEqual(2);
			await until(async () => (await s.get(ran[0] ?? '')) === null && (await s.get(ran[1] ?? '')) === null);
			expect(await s.get(ran[0] ?? '')).toBeNull();
			expect(await s.get(ran[1] ?? '')).toBeNull();
		} finally {
			await closeAll();
		}
	});

	it('refuses a bad rule naming the field, storing nothing', async () => {
		const make = await backend.store();
		const s = scheduler(await make());
		try {
			const bad = [
				[{ succeeded: -1 }, /`task.retention.succeeded`.*integer >= 0/],
				[{ failed: 1.5 }, /`task.retention.failed`.*integer >= 0/],
				[{ stopped: '1h' }, /`task.retention.stopped`.*integer >= 0/],
				[{ completed: 1 }, /`task.retention.completed`.*absent/],
				[1_000, /`task.retention`.*object/],
				[null, /`task.retention`.*object/],
			] as const;
			for (const [retention, message] of bad) {
				const refused = await s
					.add({ id: 'x', item: 'a', retention: retention as never })
					.catch((e: unknown) => e);
				expect(refused).toBeInstanceOf(InvalidTaskError);
				expect((refused as Error).message).toMatch(message);
			}
			expect(await s.get('x')).toBeNull();
		} finally {
			await closeAll();
		}
	});

	if (backend.shared) {
		it('expires a task by its own rule with no retention option anywhere, from another scheduler', async () => {
			const make = await backend.store();
			const worker = scheduler(await make());
			try {
				// The worker's first pass runs within a second of its start; its next is a minute away.
				await new Promise((resolve) => setTimeout(resolve, 1_100));
				await worker.add({ id: 'short', item: 'a', retention: { succeeded: 300 } });
				const done = await worker.waitFor('short', { timeoutMs: 10_000 });
				expect(done.status).toBe('succeeded');
				// Past its rule, and nobody deleted it.
				await new Promise((resolve) => setTimeout(resolve, 600));
				expect(await worker.get('short')).toMatchObject({ status: 'succeeded' });
				// Any scheduler on the store deletes it in its first pass (within a second of starting), claiming nothing.
				const other = scheduler(await make(), { autoStart: false });
				await until(async () => (await other.get('short')) === null, 5_000);
				expect(await other.get('short')).toBeNull();
			} finally {
				await closeAll();
			}
		});

		it('deletes a task kept 0 ms that a lease sweep failed (its owner died)', async () => {
			const make = await backend.store();
			const dead = await make();
			const now = Date.now();
			await dead.add([
				createTaskRecord(
					{ id: 'lost', item: 'x', maxAttempts: 1, retention: { failed: 0 } },
					'task',
					{
						maxAttempts: 1,
					},
					now,
				),
			]);
			expect(await dead.claim(1, 'dead-owner', 200, now)).toHaveLength(1);
			const s = scheduler(await make(), { autoStart: false });
			const failed: string[] = [];
			s.on('task:failed', ({ task }) => failed.push(`${task.id}:${task.error?.code ?? ''}`));
			try {
				await until(async () => failed.length > 0 && (await s.get('lost')) === null, 10_000);
				expect(failed).toEqual(['lost:ERR_LEASE_EXPIRED']);
				expect(await s.get('lost')).toBeNull();
			} finally {
				await dead.close();
				await closeAll();
			}
		});
	}
});

describe('task retention, the combined container', () => {
	it('keeps the rule across a restore from SQL, then deletes the task by it', async () => {
		const config = await sqlite.freshDatabase();
		const first = scheduler(new CombinedContainer(new QueueContainer(), new SqlContainer({ knex: config })), {
			autoStart: false,
		});
		await first.add({ id: 'r', item: 'a', retention: { succeeded: 0, failed: 5_000 } });
		await closeAll();
		const second = scheduler(new CombinedContainer(new QueueContainer(), new SqlContainer({ knex: config })), {
			autoStart: false,
		});
		try {
			expect(await second.get('r')).toMatchObject({
				status: 'waiting',
				retention: { succeeded: 0, failed: 5_000 },
			});
			const done = second.waitFor('r', { timeoutMs: 10_000 });
			second.resume();
			expect(await done).toMatchObject({ status: 'succeeded', output: 'A' });
			await until(async () => (await second.get('r')) === null);
			expect(await second.get('r')).toBeNull();
		} finally {
			await closeAll();
		}
	});
});

describe('task retention, through a failing clean()', () => {
	it('reports the outage once, never throws, and deletes the task once clean works again', async () => {
		class FlakyQueue extends QueueContainer {
			broken = true;
			override async clean(query: Parameters<QueueContainer['clean']>[0]): Promise<string[]> {
				if (this.broken) throw new Error('the store is away');
				return super.clean(query);
			}
		}
		const container = new FlakyQueue();
		const s = scheduler(container, { retention: { intervalMs: 50 } });
		const downs: string[] = [];
		let ups = 0;
		s.on('container:down', ({ operation }) => downs.push(operation));
		s.on('container:up', () => ups++);
		s.on('error', () => undefined);
		try {
			const done = s.waitFor('zero', { timeoutMs: 10_000 });
			await s.add({ id: 'zero', item: 'a', retention: { succeeded: 0 } });
			expect((await done).status).toBe('succeeded');
			// The finishing scheduler's delete and several expiry passes fail: one report.
			await new Promise((resolve) => setTimeout(resolve, 400));
			expect(await s.get('zero')).toMatchObject({ status: 'succeeded' });
			expect(downs).toHaveLength(1);
			container.broken = false;
			await until(async () => (await s.get('zero')) === null);
			expect(await s.get('zero')).toBeNull();
			await until(() => ups === 1);
			expect(ups).toBe(1);
			expect(downs).toHaveLength(1);
		} finally {
			await closeAll();
		}
	});
});

describe('task retention, a container without clean()', () => {
	it('refuses a task with its own rule, saying why', async () => {
		const s = scheduler(new JsonMapContainer());
		try {
			await expect(s.add({ item: 'a', retention: { succeeded: 0 } })).rejects.toThrow(
				/has no `clean\(\)`: it cannot delete tasks by their own `retention` rule/,
			);
			expect((await s.add({ item: 'a' })).retention).toBeNull();
		} finally {
			await closeAll();
		}
	});
});
