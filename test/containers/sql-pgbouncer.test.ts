/**
 * PostgreSQL behind a real PgBouncer in transaction mode (`pool_mode = transaction`, Debian's pgbouncer started
 * by the test): LISTEN does not survive it, so a scheduler asleep on an empty queue must still see a task added
 * by another process (the container finds out that notifications do not arrive and schedulers poll), and with a
 * direct LISTEN connection (`listen: { connection }`) the wake-up itself brings it. The whole container contract
 * also runs through the pooler: nothing may rely on session state (SET, session advisory locks, named prepared
 * statements) that a transaction-mode pooler drops between transactions.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Scheduler, type ContainerSignal } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { SqlContainer } from 'lightsched/containers/sql';
import { describeContainerContract, records } from '../contracts/container.contract.js';
import { startPgBouncer, type PgBouncer } from '../support/pgbouncer.js';
import { startPostgres, type PostgresServer } from '../support/postgres.js';

let pg: PostgresServer;
let bouncer: PgBouncer;
let n = 0;

beforeAll(async () => {
	pg = await startPostgres();
	await pg.createDatabase('pooled');
	bouncer = await startPgBouncer(pg, { poolMode: 'transaction', poolSize: 4 });
}, 60_000);
afterAll(async () => {
	await bouncer?.stop();
	await pg?.stop();
});

const pooled = (): {
	client: 'pg';
	connection: ReturnType<PgBouncer['connection']>;
	pool: { min: number; max: number };
} => ({
	client: 'pg',
	connection: bouncer.connection('pooled'),
	pool: { min: 0, max: 4 },
});

/** Resolves when `id` succeeded (by the scheduler's event), or rejects after `ms`. */
function succeeded(scheduler: Scheduler<number, number>, id: string, ms: number): Promise<void> {
	return new Promise((resolve, reject) => {
		const timer = setTimeout(() => reject(new Error(`task ${id} did not succeed within ${ms} ms`)), ms);
		scheduler.on('task:succeeded', ({ task }) => {
			if (task.id !== id) return;
			clearTimeout(timer);
			resolve();
		});
	});
}

describe('SqlContainer behind PgBouncer in transaction mode', () => {
	it('runs a task another process adds after the scheduler went idle: the dead LISTEN is found out and the scheduler polls', async () => {
		const prefix = `idle${++n}_`;
		const signals: ContainerSignal[] = [];
		// Probes every second: a probe can still arrive when PgBouncer happens to hand the LISTEN session's server
		// connection back to it (CI saw one), so the channel is found dead by a later probe, not always the first.
		const container = new SqlContainer({
			knex: pooled(),
			tablePrefix: prefix,
			notifyProbe: { timeoutMs: 1_000, intervalMs: 1_000 },
		});
		container.watch?.((signal) => signals.push(signal));
		const scheduler = new Scheduler({
			container,
			pollIntervalMs: 300,
			actuator: new FunctionActuator(async (x: number) => x),
		});
		scheduler.on('error', () => undefined); // the channel-down report
		const writer = new SqlContainer({ knex: pooled(), tablePrefix: prefix, notify: false });
		try {
			await scheduler.add({ id: 'first', item: 1 });
			await scheduler.onIdle();
			// Asleep on an empty queue; another process adds a task.
			const done = succeeded(scheduler, 'late', 20_000);
			await writer.add(records([{ id: 'late', item: 2 }], Date.now(), 1));
			await done;
			// The task may have run by the safety poll before a probe found the channel dead: wait for that report.
			for (let waited = 0; waited < 15_000 && !signals.some((s) => s.type === 'channel' && !s.ok); waited += 100)
				await new Promise((resolve) => setTimeout(resolve, 100));
			expect(signals).toContainEqual(expect.objectContaining({ type: 'channel', ok: false }));
			const down = signals.find((s) => s.type === 'channel' && !s.ok) as { error?: Error } | undefined;
			expect(down?.error?.message).toMatch(/notifications do not arrive.*transaction.*listen: \{ connection \}/s);
			expect(down?.error?.message).toContain(`127.0.0.1:${bouncer.port}/pooled`);
			expect(down?.error).toMatchObject({ name: 'ContainerError', code: 'ERR_CONTAINER' });
		} finally {
			await scheduler.close();
			await writer.close();
		}
	}, 60_000);

	it('with a direct LISTEN connection the wake-up brings the task, with no poll to fall back on', async () => {
		const prefix = `direct${++n}_`;
		const signals: ContainerSignal[] = [];
		const container = new SqlContainer({
			knex: pooled(),
			tablePrefix: prefix,
			listen: { connection: { ...pg.connection, database: 'pooled' } },
			notifyProbe: { timeoutMs: 1_000 },
		});
		container.watch?.((signal) => signals.push(signal));
		// A poll interval far beyond the test's bound: only a notification can bring the late task in time.
		const scheduler = new Scheduler({
			container,
			pollIntervalMs: 600_000,
			actuator: new FunctionActuator(async (x: number) => x),
		});
		const writer = new SqlContainer({ knex: pooled(), tablePrefix: prefix });
		try {
			await scheduler.add({ id: 'first', item: 1 });
			await scheduler.onIdle();
			// Let the first probe run (it passes through the pool and arrives on the direct connection).
			await new Promise((resolve) => setTimeout(resolve, 1_500));
			const done = succeeded(scheduler, 'late', 20_000);
			await writer.add(records([{ id: 'late', item: 2 }], Date.now(), 1));
			await done;
			expect(signals.filter((s) => s.type === 'channel')).toEqual([]);
		} finally {
			await scheduler.close();
			await writer.close();
		}
	}, 60_000);

	it('rejects `listen` without notify, and a misspelt listen option', () => {
		expect(() => new SqlContainer({ knex: pooled(), notify: false, listen: { connection: pg.url } })).toThrow(
			/`listen` needs PostgreSQL with `notify`/,
		);
		expect(() => new SqlContainer({ knex: pooled(), listen: { conection: pg.url } as never })).toThrow(
			/did you mean `connection`/,
		);
	});
});

// Every container operation through the transaction-mode pooler (on the caller's clock: the contract sets `now`).
describeContainerContract(
	'SqlContainer (PostgreSQL through PgBouncer, transaction mode)',
	() => new SqlContainer({ knex: pooled(), tablePrefix: `k${++n}_`, clock: 'caller' }),
	{ priority: true, json: true, operations: { pause: true, clean: true, repeats: true, logs: true, events: true } },
);
