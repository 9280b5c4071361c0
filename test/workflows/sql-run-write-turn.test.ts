/**
 * The run writes asked for in one turn of the event loop go in one batch, the first one included: the step ends of
 * one transition batch all reach the run-write batcher in one run of the microtask queue, and on better-sqlite3 a
 * batch runs synchronously, so a batch started at the first write went alone (a transaction and a commit of its own,
 * with every page it touched written again by the next) and the others followed in a second one.
 */
import type { Knex } from 'knex';
import { describe, expect, it } from 'vitest';
import { RunWriteBatcher } from '../../containers/sql/run-writes.js';
import type { RunWriteValues } from '../../containers/sql/run-update.js';

const values = (rev: number): RunWriteValues => ({
	definition: 'd',
	version: 1,
	run_key: null,
	active_key: null,
	status: 'running',
	open: 1,
	updated_at: 1,
	rev: rev + 1,
	body: '{}',
});

describe('Run writes of one turn', () => {
	it('go in one transaction on better-sqlite3, the first with the others', async () => {
		const transactions: number[] = [];
		const batcher = new RunWriteBatcher({
			dialect: 'sqlite',
			table: 'runs',
			knex: {} as Knex,
			insert: null,
			// The direct transaction (direct-sqlite.ts) runs its work at once, as better-sqlite3's does.
			transaction: (_label, _bindings, work) => {
				let updated = 0;
				const result = work((sql, bindings) => {
					// Every run of the statement is written: its `RETURNING id` rows, one per id among the bindings.
					const ids = bindings.filter((b): b is string => typeof b === 'string' && b.startsWith('run-'));
					updated += new Set(ids).size;
					return [...new Set(ids)].map((id) => ({ id }));
				});
				transactions.push(updated);
				return Promise.resolve(result);
			},
		});
		const outcomes = await Promise.all(
			['run-1', 'run-2', 'run-3'].map((id) => batcher.submit(id, 1, 1, values(1))),
		);
		expect(outcomes).toEqual([[], [], []]);
		expect(transactions).toEqual([3]);
		// A write asked for while a batch is on its way still waits for it, then goes with the others of its turn.
		const later = await Promise.all([
			batcher.submit('run-1', 2, 1, values(2)),
			batcher.submit('run-2', 2, 1, values(2)),
		]);
		expect(later).toEqual([[], []]);
		expect(transactions).toEqual([3, 2]);
	});
});
