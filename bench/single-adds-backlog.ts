/**
 * Single adds against a stored backlog (what an API server that adds a task per request does), on SQLite
 * (better-sqlite3) or PostgreSQL, from the build: BACKLOG delayed tasks are first added 5,000 a call (untimed),
 * then ADDS tasks are added one per `add` call by 32 callers at once, no scheduler running them. Printed: adds/s and
 * this process's CPU µs an add. The id each add generates decides where its entry goes in the id index: a random
 * id (UUID v4) on a random page of it, a time-ordered one (UUID v7, what lightsched generates since 7 Dec 2026) at
 * its end; the gap grows with the index (docs/benchmarks.md, "7 Dec 2026 (fourth session)").
 *
 *   npm run build && npx tsx bench/single-adds-backlog.ts [sqlite|pg] [backlog, default 300000] [adds, default 20000]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Knex } from 'knex';
import { Scheduler } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { SqlContainer } from 'lightsched/containers/sql';
import { startPostgres, type PostgresServer } from '../test/support/postgres.js';

const kind = process.argv[2] ?? 'sqlite';
const backlog = Number(process.argv[3] ?? 300_000);
const adds = Number(process.argv[4] ?? 20_000);
if (kind !== 'sqlite' && kind !== 'pg') throw new Error(`Unknown kind ${kind} (sqlite, pg)`);

const dir = mkdtempSync(join(tmpdir(), 'lightsched-single-adds-'));
let pg: PostgresServer | undefined;
try {
	let knex: Knex.Config;
	if (kind === 'pg') {
		pg = await startPostgres();
		knex = { client: 'pg', connection: await pg.createDatabase('single_adds'), pool: { min: 0, max: 8 } };
	} else knex = { client: 'better-sqlite3', connection: { filename: join(dir, 'a.sqlite') }, useNullAsDefault: true };
	const container = new SqlContainer({ knex });
	const scheduler = new Scheduler({ container, actuator: new FunctionActuator(() => null), autoStart: false });
	const dayAhead = Date.now() + 86_400_000;
	for (let i = 0; i < backlog; i += 5_000)
		await scheduler.add(
			Array.from({ length: Math.min(5_000, backlog - i) }, () => ({ item: null, runAt: dayAhead })),
		);
	const started = performance.now();
	const cpu = process.cpuUsage();
	let next = 0;
	await Promise.all(
		Array.from({ length: 32 }, async () => {
			while (next++ < adds) await scheduler.add({ item: { n: next } });
		}),
	);
	const ms = performance.now() - started;
	const used = process.cpuUsage(cpu);
	console.log(
		`${kind}, ${backlog} tasks stored: ${((adds / ms) * 1000).toFixed(0)} single adds/s, CPU ${((used.user + used.system) / adds).toFixed(1)} µs an add`,
	);
	await scheduler.close();
} finally {
	await pg?.stop();
	rmSync(dir, { recursive: true, force: true });
}
