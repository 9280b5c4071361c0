/**
 * Where a task's time goes on SQLite: one drain of TASKS no-op tasks (default 10,000) by one scheduler at
 * CONCURRENCY (default 16) on a WAL file, after an untimed first drain of the same size. Prints, per drain, the rate
 * (wall clock: swings with the load), this process's CPU per task (`process.cpuUsage()`: much less), the
 * container's statements per task by kind (counted from knex's `query` events, which the direct better-sqlite3 path
 * emits too), the commits per task (write statements outside a transaction, plus transactions: each is one commit
 * of the WAL) and the average transitions per batched UPDATE. DRIVER=sqlite3 for the asynchronous driver (default
 * better-sqlite3); PROF=<file.cpuprofile> writes a CPU profile of the measured drain alone (read it with
 * bench/workflows-profile-summary.ts <dir>); REPEAT=<n> runs n measured drains (fresh file each, one warm-up);
 * NOTRIG=1 drops the change log's update trigger first (an experiment: what the trigger costs when nobody follows);
 * PERF_CTL=<fifo> writes `enable` and `disable` to a `perf record --control fifo:<fifo> -D -1` around the measured
 * drains, so a native profile sees the drains alone (not the adds).
 *
 *   node --import tsx --conditions=lightsched:source bench/sqlite-statements.ts
 */
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import inspector from 'node:inspector';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Scheduler } from 'lightsched';
import { createTaskRecord } from 'lightsched/kit';
import { FunctionActuator } from 'lightsched/actuators/function';
import { SqlContainer } from 'lightsched/containers/sql';

const post = (session: inspector.Session, method: string): Promise<unknown> =>
	new Promise((resolve, reject) =>
		session.post(method, (error, result) => (error ? reject(error) : resolve(result))),
	);

const N = Number(process.env.TASKS ?? 10_000);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 16);
const DRIVER = process.env.DRIVER ?? 'better-sqlite3';
const REPEAT = Number(process.env.REPEAT ?? 1);
const dir = mkdtempSync(join(tmpdir(), 'lightsched-sqlite-statements-'));

/** The kind of a statement: its first word, with a WITH … UPDATE as `batch` (the batched transitions). */
function kindOf(sql: string): string {
	const text = sql.trimStart();
	const word = (/^[A-Za-z]+/.exec(text)?.[0] ?? '?').toUpperCase();
	if (word === 'WITH' && /\bUPDATE\b/i.test(text)) return 'UPDATE (batch)';
	if (word === 'PRAGMA') return text.replace(/\s+/g, ' ').slice(0, 24);
	if (word === 'UPDATE' && /SET status = 'running'/.test(text)) return 'UPDATE (claim)';
	if (word === 'UPDATE' && /SET lease_until/.test(text)) return 'UPDATE (renew)';
	if (word === 'UPDATE' && /SET delayed = 0/.test(text)) return 'UPDATE (promote)';
	if (word === 'UPDATE' && /WHERE id = \? AND status = \?/.test(text)) return 'UPDATE (one transition)';
	return word;
}

const WRITES = /^(UPDATE|INSERT|DELETE|REPLACE)/;

try {
	for (let round = 0; round <= REPEAT; round++) {
		const container = new SqlContainer({
			knex: { client: DRIVER, connection: { filename: join(dir, `r${round}.db`) }, useNullAsDefault: true },
		});
		const now = Date.now();
		for (let i = 0; i < N; i += 1000)
			await container.add(
				Array.from({ length: Math.min(1000, N - i) }, (_, j) =>
					createTaskRecord({ item: i + j }, 'task', { maxAttempts: 1 }, now),
				),
			);
		if (process.env.NOTRIG === '1') await container.knex.raw('DROP TRIGGER IF EXISTS lightsched_changes_changed');
		const counts = new Map<string, number>();
		let batchRows = 0;
		let commits = 0;
		let inTransaction = false;
		let counting = false;
		(container.knex.client as NodeJS.EventEmitter).on('query', (q: { sql: string; bindings?: unknown[] }) => {
			if (!counting) return;
			const kind = kindOf(q.sql);
			counts.set(kind, (counts.get(kind) ?? 0) + 1);
			if (kind === 'UPDATE (batch)') batchRows += /\(VALUES /.exec(q.sql) ? q.sql.split('), (').length : 0;
			if (/^BEGIN/i.test(q.sql)) inTransaction = true;
			if (/^(COMMIT|ROLLBACK)/i.test(q.sql)) {
				inTransaction = false;
				commits++;
			} else if (!inTransaction && (WRITES.test(kind) || kind === 'UPDATE (batch)')) commits++;
		});
		let done = 0;
		let finish = (): void => undefined;
		const finished = new Promise<void>((r) => (finish = r));
		const s = new Scheduler({
			container,
			actuator: new FunctionActuator(async () => {}),
			concurrency: CONCURRENCY,
			autoStart: false,
		});
		s.on('task:succeeded', () => {
			if (++done === N) finish();
		});
		s.on('error', (error) => console.error('scheduler error:', error.message));
		const measured = round > 0;
		const profiler = process.env.PROF !== undefined && round === 1 ? new inspector.Session() : null;
		if (profiler !== null) {
			profiler.connect();
			await post(profiler, 'Profiler.enable');
			await post(profiler, 'Profiler.start');
		}
		const load = loadavg()[0] ?? 0;
		counting = measured;
		if (measured && process.env.PERF_CTL !== undefined) appendFileSync(process.env.PERF_CTL, 'enable\n');
		const t0 = performance.now();
		const c0 = process.cpuUsage();
		s.resume();
		await finished;
		const ms = performance.now() - t0;
		const c = process.cpuUsage(c0);
		if (measured && process.env.PERF_CTL !== undefined) appendFileSync(process.env.PERF_CTL, 'disable\n');
		counting = false;
		if (profiler !== null) {
			const { profile } = (await post(profiler, 'Profiler.stop')) as { profile: unknown };
			writeFileSync(process.env.PROF as string, JSON.stringify(profile));
			profiler.disconnect();
		}
		await s.close();
		await container.close();
		if (!measured) continue;
		const total = [...counts.values()].reduce((a, b) => a + b, 0);
		console.log(
			`${DRIVER} drain ${round}: ${Math.round((N / ms) * 1000)}/s (wall, load ${load.toFixed(2)}), CPU ${((c.user + c.system) / N).toFixed(1)} µs/task (user ${(c.user / N).toFixed(1)}, system ${(c.system / N).toFixed(1)}); statements/task ${(total / N).toFixed(3)}, commits/task ${(commits / N).toFixed(3)}, transitions/batch ${(batchRows / Math.max(1, counts.get('UPDATE (batch)') ?? 0)).toFixed(1)}`,
		);
		for (const [kind, n] of [...counts].sort((a, b) => b[1] - a[1]))
			console.log(`  ${kind.padEnd(28)} ${String(n).padStart(7)}  ${(n / N).toFixed(3)}/task`);
		console.log(
			`RESULT ${JSON.stringify({ driver: DRIVER, rate: (N / ms) * 1000, cpuUs: (c.user + c.system) / N, statements: total / N, commits: commits / N, load })}`,
		);
	}
} finally {
	rmSync(dir, { recursive: true, force: true });
}
