/**
 * How long `CombinedContainer` takes to restore N waiting tasks from a SQLite file (pages of 1,000), median of
 * several runs, into a QueueContainer and into an OrderedMapContainer. The baseline is one unpaged
 * `list({ status: 'waiting', limit: N })`: the least any restore through the container contract can cost.
 *
 * `npm run bench:combined -- [tasks=100000] [runs=5]`
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTaskRecord, type TaskContainer } from 'lightsched/kit';
import { CombinedContainer } from 'lightsched/containers/combined';
import { OrderedMapContainer } from 'lightsched/containers/ordered-map';
import { QueueContainer } from 'lightsched/containers/queue';
import { SqlContainer } from 'lightsched/containers/sql';
import { median } from './stats.js';

const total = Number(process.argv[2] ?? 100_000);
const runs = Number(process.argv[3] ?? 5);
const dir = mkdtempSync(join(tmpdir(), 'lightsched-bench-combined-'));
const filename = join(dir, 'tasks.sqlite');
const open = (): SqlContainer => new SqlContainer({ knex: { client: 'sqlite3', connection: { filename } } });

try {
	const seed = open();
	const now = Date.now();
	for (let start = 0; start < total; start += 10_000) {
		const size = Math.min(10_000, total - start);
		await seed.add(
			Array.from({ length: size }, (_, i) =>
				createTaskRecord(
					{ id: `t${start + i}`, item: { n: start + i }, priority: (start + i) % 3 },
					'task',
					{ maxAttempts: 3 },
					now,
				),
			),
		);
	}
	await seed.close();

	const time = async (make: () => TaskContainer): Promise<number> => {
		const combined = new CombinedContainer(make(), open());
		const result = await combined.restore();
		if (result.restored !== total) throw new Error(`restored ${result.restored} of ${total}`);
		await combined.close();
		return result.durationMs;
	};
	const baseline: number[] = [];
	const queue: number[] = [];
	const map: number[] = [];
	for (let run = 0; run < runs; run++) {
		const sql = open();
		const started = performance.now();
		const page = await sql.list({ status: 'waiting', limit: total });
		baseline.push(performance.now() - started);
		if (page.tasks.length !== total) throw new Error('baseline read short');
		await sql.close();
		queue.push(await time(() => new QueueContainer()));
		map.push(await time(() => new OrderedMapContainer()));
	}
	const b = median(baseline);
	const q = median(queue);
	const m = median(map);
	console.log(`restore of ${total} waiting tasks from SQLite, median of ${runs} runs:`);
	console.log(`  one unpaged list (baseline): ${b.toFixed(0)} ms`);
	console.log(`  Combined(QueueContainer, SqlContainer): ${q.toFixed(0)} ms (${(q / b).toFixed(2)}× baseline)`);
	console.log(`  Combined(OrderedMapContainer, SqlContainer): ${m.toFixed(0)} ms (${(m / b).toFixed(2)}× baseline)`);
} finally {
	rmSync(dir, { recursive: true, force: true });
}
