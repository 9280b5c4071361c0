/**
 * Retention soak (issue 14 item 1): TOTAL no-op tasks through one scheduler on Redis and on PostgreSQL with the
 * `retention` option on (succeeded: the newest KEEP), a producer keeping a bounded backlog. Every few seconds it
 * samples what the store holds (Redis: keys and used_memory; PostgreSQL: task rows and the table's size) and
 * prints the samples, then the largest: with retention the store stays bounded however many tasks went through.
 *
 *   npm run bench:retention          (TOTAL=1000000 KEEP=10000 KINDS=redis,pg; a smaller TOTAL for a quick look)
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { Scheduler, type TaskContainer } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { RedisContainer } from 'lightsched/containers/redis';
import { SqlContainer } from 'lightsched/containers/sql';
import { startPostgres } from '../test/support/postgres.js';
import { startRedis } from '../test/support/redis.js';

const TOTAL = Number(process.env.TOTAL ?? 1_000_000);
const KEEP = Number(process.env.KEEP ?? 10_000);
const KINDS = (process.env.KINDS ?? 'redis,pg').split(',');
const BACKLOG = 20_000;
const BATCH = 1_000;
const SAMPLE_MS = 5_000;

interface Sample {
	readonly at: number;
	readonly done: number;
	readonly stored: number;
	readonly bytes: number;
}

async function soak(name: string, container: TaskContainer, measure: () => Promise<{ stored: number; bytes: number }>) {
	const scheduler = new Scheduler({
		container,
		concurrency: 100,
		actuator: new FunctionActuator(() => 1),
		retention: { succeeded: { maxCount: KEEP }, intervalMs: 1_000, batchSize: 5_000 },
	});
	let done = 0;
	let cleaned = 0;
	scheduler.on('task:succeeded', () => done++);
	scheduler.on('tasks:cleaned', ({ ids }) => (cleaned += ids.length));
	scheduler.on('error', (error) => console.error(`${name}: ${error.message}`));
	const started = Date.now();
	const samples: Sample[] = [];
	let added = 0;
	const sampler = setInterval(() => {
		void measure().then((m) => {
			samples.push({ at: Date.now() - started, done, ...m });
			console.log(
				`${name}: ${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s  done ${String(done).padStart(8)}  ` +
					`stored ${String(m.stored).padStart(8)}  ${(m.bytes / 1_048_576).toFixed(1).padStart(7)} MiB  cleaned ${cleaned}`,
			);
		});
	}, SAMPLE_MS);
	while (added < TOTAL) {
		if (added - done > BACKLOG) {
			await sleep(20);
			continue;
		}
		const n = Math.min(BATCH, TOTAL - added);
		await scheduler.add(Array.from({ length: n }, (_, i) => ({ item: added + i })));
		added += n;
	}
	await scheduler.onIdle();
	await sleep(3_000); // one more retention pass
	clearInterval(sampler);
	const end = await measure();
	samples.push({ at: Date.now() - started, done, ...end });
	await scheduler.close();
	const seconds = (Date.now() - started) / 1000;
	const max = samples.reduce((a, b) => (b.stored > a.stored ? b : a));
	const maxBytes = Math.max(...samples.map((s) => s.bytes));
	console.log(
		`${name}: ${done.toLocaleString('en')} tasks in ${seconds.toFixed(0)} s (${Math.round(done / seconds).toLocaleString('en')}/s), ` +
			`retention kept ${KEEP.toLocaleString('en')} succeeded: the store held at most ${max.stored.toLocaleString('en')} ` +
			`(at ${max.done.toLocaleString('en')} done), ${(maxBytes / 1_048_576).toFixed(1)} MiB at most; at the end ` +
			`${end.stored.toLocaleString('en')}, ${(end.bytes / 1_048_576).toFixed(1)} MiB`,
	);
}

if (KINDS.includes('redis')) {
	const server = await startRedis();
	const admin = new Redis(server.url);
	await soak('redis', new RedisContainer({ redis: server.url, name: 'soak', log: false }), async () => {
		const info = await admin.info('memory');
		return { stored: await admin.dbsize(), bytes: Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0) };
	});
	admin.disconnect();
	await server.stop();
}
if (KINDS.includes('pg')) {
	const pg = await startPostgres();
	const container = new SqlContainer({ knex: { client: 'pg', connection: pg.connection, pool: { min: 0, max: 8 } } });
	await soak('pg', container, async () => {
		const { Client } = await import('pg');
		const client = new Client(pg.connection);
		await client.connect();
		try {
			const rows = await client.query(
				`SELECT count(*) AS n, pg_total_relation_size('"lightsched_tasks"') AS bytes,
					pg_relation_size('"lightsched_tasks"') AS heap FROM "lightsched_tasks"`,
			);
			// Why the size moves: dead rows, when autovacuum last ran, and the oldest snapshot a session holds.
			const stat = await client.query(
				`SELECT n_dead_tup, autovacuum_count, (SELECT max(age(backend_xmin)) FROM pg_stat_activity) AS xmin_age
					FROM pg_stat_user_tables WHERE relname = 'lightsched_tasks'`,
			);
			const row = stat.rows[0] ?? {};
			console.log(
				`pg: heap ${(Number(rows.rows[0].heap) / 1_048_576).toFixed(1)} MiB, dead rows ${row.n_dead_tup}, ` +
					`autovacuums ${row.autovacuum_count}, oldest snapshot age ${row.xmin_age ?? 'none'}`,
			);
			return { stored: Number(rows.rows[0].n), bytes: Number(rows.rows[0].bytes) };
		} finally {
			await client.end();
		}
	});
	await pg.stop();
}
