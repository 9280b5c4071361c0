/**
 * Adds written together (containers/sql/add-queue.ts) through a network that cuts: a PostgreSQL SqlContainer reaches
 * its server through a TCP proxy that cuts every connection every 300 ms and once more while each wave is on its
 * way, and waves of 40 concurrent adds of 3 tasks each go through it until a cut has refused at least 10 of them
 * and 40 were stored. Every add settles; an add that resolved has all its tasks stored; an add that was refused
 * (its reply may be lost after the commit) has all of its tasks stored or none, never some: batching never splits
 * an add. A refused add whose tasks were stored says so: a `PartialAddError` naming them unsure, never a plain
 * `ContainerError` (which means nothing was sent).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContainerError, PartialAddError } from 'lightsched';
import { SqlContainer } from 'lightsched/containers/sql';
import { records } from '../contracts/container.contract.js';
import { startPostgres, type PostgresServer } from '../support/postgres.js';
import { startCuttingProxy, type CuttingProxy } from '../support/redis.js';

const ADDS = 40;
const MAX_WAVES = 60;

let pg: PostgresServer;
let proxy: CuttingProxy;

beforeAll(async () => {
	pg = await startPostgres();
	proxy = await startCuttingProxy(pg.port, 300);
}, 60_000);
afterAll(async () => {
	await proxy?.close();
	await pg?.stop();
});

describe('SqlContainer (PostgreSQL) adds through a proxy that cuts every connection every 300 ms', () => {
	it(
		'settles every add; a stored add has all its tasks, a refused one all or none',
		{ timeout: 240_000 },
		async () => {
			const db = await pg.createDatabase('addcut');
			const cut = new SqlContainer({
				knex: { client: 'pg', connection: { ...db, port: proxy.port }, pool: { min: 0, max: 4 } },
			});
			const direct = new SqlContainer({ knex: { client: 'pg', connection: db } });
			await direct.migrate();
			let resolved = 0;
			let refused = 0;
			let storedRefused = 0;
			try {
				for (let wave = 0; wave < MAX_WAVES && (refused < 10 || resolved < 40); wave++) {
					const adds = Array.from({ length: ADDS }, (_, i) =>
						records([0, 1, 2].map((k) => ({ id: `w${wave}-a${i}-t${k}`, item: k }))),
					);
					const pending = Promise.allSettled(adds.map((tasks) => cut.add(tasks)));
					// Besides the timer's cuts, one while this wave is on its way: a wave's adds go as one quick
					// statement, so the timer alone may only ever cut idle connections (a run once saw 0 refused).
					await new Promise((resolve) => setTimeout(resolve, wave % 4));
					proxy.cut();
					const settled = await pending;
					for (const [i, outcome] of settled.entries()) {
						// One statement, one snapshot: a refused add's commit may still land on the server meanwhile.
						const ids = [0, 1, 2].map((k) => `w${wave}-a${i}-t${k}`);
						const found = (await direct.knex.raw(
							'SELECT id FROM lightsched_tasks WHERE id IN (?, ?, ?)',
							ids,
						)) as {
							rows: unknown[];
						};
						const count = found.rows.length;
						if (outcome.status === 'fulfilled') {
							resolved++;
							expect(count, `w${wave}-a${i} resolved`).toBe(3);
						} else {
							refused++;
							expect(outcome.reason).toBeInstanceOf(ContainerError);
							expect([0, 3], `w${wave}-a${i} refused`).toContain(count);
							if (outcome.reason instanceof PartialAddError)
								expect(outcome.reason.unsureIds, `w${wave}-a${i} unsure`).toEqual(ids);
							if (count === 3) {
								storedRefused++;
								expect(outcome.reason, `w${wave}-a${i} stored, refused`).toBeInstanceOf(
									PartialAddError,
								);
							}
						}
					}
				}
				console.log(
					`[sql add cuts] ${resolved} adds stored, ${refused} refused by a cut (${storedRefused} of them ` +
						`stored after all, each a PartialAddError); cuts: ${proxy.cuts}`,
				);
				expect(refused).toBeGreaterThanOrEqual(10);
				expect(resolved).toBeGreaterThanOrEqual(40);
			} finally {
				await cut.close();
				await direct.close();
			}
		},
	);
});
