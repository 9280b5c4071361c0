/**
 * What one run-row update costs SQLite alone (issue 13: the part of a workflow step's cost that is its run's write),
 * on better-sqlite3 with the container's settings (WAL, `synchronous = NORMAL`): a table of 1,000 rows (a run's id, a
 * `rev`, a body of BODY bytes), ROWS random rows updated a transaction, each body rewritten, as the workflow store's
 * release does. Prints the median of 7 rounds of 3,400 updates, in µs an update (the commit and the automatic
 * checkpoints that come with them included), for each body size and batch size given:
 *
 *   npx tsx bench/sqlite-run-row-cost.ts [bodies, default 200,900,2000] [rows a transaction, default 34]
 */
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { median } from './stats.js';

/** What this bench uses of better-sqlite3 (an optional dependency without types here). */
interface Statement {
	run(...values: unknown[]): unknown;
}
interface Connection {
	pragma(text: string): unknown;
	exec(sql: string): unknown;
	prepare(sql: string): Statement;
	transaction(work: () => void): () => void;
	close(): void;
}
const Database = createRequire(import.meta.url)('better-sqlite3') as new (filename: string) => Connection;

const bodies = (process.argv[2] ?? '200,900,2000').split(',').map(Number);
const batches = (process.argv[3] ?? '34').split(',').map(Number);
const dir = mkdtempSync(join(tmpdir(), 'lightsched-row-cost-'));
try {
	for (const size of bodies)
		for (const perTransaction of batches) {
			const db = new Database(join(dir, `r${size}-${perTransaction}.sqlite`));
			db.pragma('journal_mode = WAL');
			db.pragma('synchronous = NORMAL');
			db.exec('CREATE TABLE runs (id TEXT PRIMARY KEY, rev INTEGER, body TEXT)');
			const body = 'x'.repeat(size);
			const insert = db.prepare('INSERT INTO runs VALUES (?, 0, ?)');
			const ids = Array.from({ length: 1000 }, () => randomUUID());
			db.transaction(() => ids.forEach((id) => insert.run(id, body)))();
			const update = db.prepare('UPDATE runs SET rev = rev + 1, body = ? WHERE id = ?');
			const begin = db.prepare('BEGIN IMMEDIATE');
			const commit = db.prepare('COMMIT');
			const round = (transactions: number): number => {
				const started = process.hrtime.bigint();
				for (let t = 0; t < transactions; t++) {
					begin.run();
					for (let i = 0; i < perTransaction; i++) update.run(body, ids[Math.floor(Math.random() * 1000)]);
					commit.run();
				}
				return Number(process.hrtime.bigint() - started) / 1000 / (transactions * perTransaction);
			};
			const transactions = Math.ceil(3400 / perTransaction);
			round(transactions);
			const us = Array.from({ length: 7 }, () => round(transactions));
			console.log(
				`body ${size} B, ${perTransaction} rows a transaction: ${median(us).toFixed(1)} µs an update (min ${Math.min(...us).toFixed(1)})`,
			);
			db.close();
		}
} finally {
	rmSync(dir, { recursive: true, force: true });
}
