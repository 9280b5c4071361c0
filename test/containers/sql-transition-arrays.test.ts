/**
 * SqlContainer on PostgreSQL (containers/sql/transitions.ts): a batch of transitions goes to the server as one
 * array per column (`unnest`). Every value must arrive as it was given, whatever characters array literals treat
 * specially (quotes, backslashes, braces, commas, the word NULL), a patch key one row sets and another leaves alone
 * must stay untouched where it is not set, and each row keeps its own compare-and-set.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TaskPatch } from 'lightsched';
import { SqlContainer } from 'lightsched/containers/sql';
import { records } from '../contracts/container.contract.js';
import { DONE, postgresBackend, type SqlBackend } from '../support/sql.js';

let pg: SqlBackend;
beforeAll(async () => {
	pg = await postgresBackend();
}, 120_000);
afterAll(() => pg.stop());

const awkward: unknown[] = [
	'say "hi", {then} \\ leave',
	'NULL',
	'',
	{ nested: ['a,b', '}{', '\\"'], n: 12345678901234 },
	'é ü 日本 😀',
	null,
];

describe.each([
	['straight to the connection', false],
	// A `postProcessResponse` turns the direct path off (direct-pg.ts): the arrays then go through knex's `raw`.
	["through knex's query path", true],
])('SqlContainer batched transitions on PostgreSQL (arrays per column), %s', (_name, throughKnex) => {
	it('stores every value of a batch as given, leaves unset fields alone, and refuses a failed comparison alone', async () => {
		const config = await pg.freshDatabase();
		const c = new SqlContainer({
			knex: throughKnex ? { ...config, postProcessResponse: (result: unknown) => result } : config,
		});
		try {
			const n = awkward.length + 2;
			await c.add(records(Array.from({ length: n }, (_, i) => ({ id: `t${i}`, item: i }))));
			expect(await c.claim(n, 'o', 30_000, Date.now())).toHaveLength(n);
			await c.transition('t0', 'running', 'running', { progress: { step: 'kept' } }, 'o');
			const batches: string[] = [];
			c.knex.on('query', (q: { sql: string }) => {
				if (/^\s*WITH v \(/.test(q.sql)) batches.push(q.sql);
			});
			// t0 alone first (nothing on its way); the rest are asked for in the turn its reply comes: one statement.
			const rest = await c
				.transition('t0', 'running', 'succeeded', { ...DONE, output: 'first' }, 'o')
				.then(() => [
					...awkward.map((output, i) => {
						const patch: TaskPatch = { ...DONE, output };
						// Every other row also sets its progress; the others must keep theirs (none).
						if (i % 2 === 0) patch.progress = { i, text: output };
						return c.transition(`t${i + 1}`, 'running', 'succeeded', patch, 'o');
					}),
					c.transition(`t${n - 1}`, 'running', 'succeeded', { ...DONE, output: 'x' }, 'someone else'),
				]);
			const settled = await Promise.all(rest);
			expect(batches).toHaveLength(1);
			expect(settled.at(-1)).toBeNull();
			expect((await c.get(`t${n - 1}`))?.status).toBe('running');
			for (const [i, output] of awkward.entries()) {
				const stored = await c.get(`t${i + 1}`);
				expect(stored).toMatchObject({ status: 'succeeded', output, owner: null, leaseUntil: null });
				expect(stored?.progress ?? null).toEqual(i % 2 === 0 ? { i, text: output } : null);
				expect(settled[i]).toMatchObject({ id: `t${i + 1}`, status: 'succeeded', output });
			}
			expect(await c.get('t0')).toMatchObject({
				status: 'succeeded',
				output: 'first',
				progress: { step: 'kept' },
			});
		} finally {
			await c.close();
		}
	});
});
