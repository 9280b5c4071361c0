/**
 * The workflow store contract on Redis (RedisWorkflowStore), and what only a store shared over the network must do:
 * races between two connections, queries answered from its indexes alike the memory store's, indexes left clean,
 * a shared ioredis instance, and a clear error in bounded time when the server is gone.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContainerError } from 'lightsched';
import { RedisWorkflowStore } from 'lightsched/containers/redis';
import {
	DuplicateRunError,
	MemoryWorkflowStore,
	RUN_STATUSES,
	type RunQuery,
	type RunRecord,
	type RunStatus,
} from 'lightsched/workflows';
import { startRedis, type RedisServer } from '../support/redis.js';
import { until } from './fixture.js';
import { sampleRun, workflowStoreContract } from './store.contract.js';

let server: RedisServer | undefined;
let n = 0;
beforeAll(async () => {
	server = await startRedis();
}, 60_000);
afterAll(async () => {
	await server?.close();
});

const url = (): string => (server as RedisServer).url;

workflowStoreContract(
	'RedisWorkflowStore',
	async () => new RedisWorkflowStore({ redis: url(), name: `contract${++n}` }),
);

describe('RedisWorkflowStore across connections', () => {
	it('two stores (two connections) racing one compare-and-set: exactly one write wins each round', async () => {
		const name = `race${++n}`;
		const a = new RedisWorkflowStore({ redis: url(), name });
		const b = new RedisWorkflowStore({ redis: url(), name });
		try {
			const run = sampleRun();
			await a.create(run);
			for (let round = 0; round < 20; round++) {
				const [fromA, fromB] = await Promise.all([a.get(run.id), b.get(run.id)]);
				expect(fromA?.rev).toBe(round);
				expect(fromB?.rev).toBe(round);
				const writes = [a, b, a, b, a, b].map((store, i) =>
					store.update({
						...(structuredClone(i % 2 === 0 ? fromA : fromB) as RunRecord),
						shared: { i, round },
					}),
				);
				const results = await Promise.all(writes);
				const winners = results.filter((r) => r !== null);
				expect(winners).toHaveLength(1);
				expect(await b.get(run.id)).toEqual(winners[0]);
			}
			expect((await a.get(run.id))?.rev).toBe(20);
		} finally {
			await a.close();
			await b.close();
		}
	});

	it('a unique key raced from two connections: one run holds it, every other create is refused naming it', async () => {
		const name = `key${++n}`;
		const a = new RedisWorkflowStore({ redis: url(), name });
		const b = new RedisWorkflowStore({ redis: url(), name });
		try {
			for (let round = 0; round < 10; round++) {
				const key = `cluster-${round}`;
				const runs = Array.from({ length: 8 }, () => sampleRun({ key, uniqueKey: true }));
				const settled = await Promise.allSettled(runs.map((run, i) => (i % 2 === 0 ? a : b).create(run)));
				const won = settled.flatMap((s, i) => (s.status === 'fulfilled' ? [runs[i] as RunRecord] : []));
				expect(won).toHaveLength(1);
				for (const s of settled) {
					if (s.status === 'fulfilled') continue;
					expect(s.reason).toBeInstanceOf(DuplicateRunError);
					expect((s.reason as DuplicateRunError).key).toBe(key);
					expect((s.reason as Error).message).toContain((won[0] as RunRecord).id);
				}
				expect((await b.list({ key })).total).toBe(1);
			}
		} finally {
			await a.close();
			await b.close();
		}
	});

	it('answers every query as the memory store does, from its indexes, and leaves no index entry behind', async () => {
		const name = `query${++n}`;
		const redisStore = new RedisWorkflowStore({ redis: url(), name });
		const memory = new MemoryWorkflowStore();
		let seed = 7;
		const random = (k: number): number => {
			seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
			return seed % k;
		};
		const pick = <T>(list: readonly T[]): T => list[random(list.length)] as T;
		try {
			const runs: RunRecord[] = [];
			for (let i = 0; i < 150; i++) {
				const status = pick(RUN_STATUSES);
				const run = sampleRun({
					// Equal creation times: the order falls back to the id.
					createdAt: 5_000 + random(40),
					definition: pick(['deploy', 'backup', 'cut']),
					key: pick([null, 'k1', 'k2', 'k3']),
					status,
					open: random(2) === 0,
				});
				runs.push(run);
				await redisStore.create(run);
				await memory.create(run);
			}
			// Change some (status, open) through update on both.
			for (const run of runs.slice(0, 50)) {
				const next = { ...run, status: pick(RUN_STATUSES), open: random(2) === 0 };
				expect(await redisStore.update(next)).toEqual(await memory.update(next));
			}
			const queries: RunQuery[] = [{}, { order: 'desc', offset: 3, limit: 7 }, { status: [] }, { limit: 0 }];
			for (let q = 0; q < 120; q++) {
				const query: Record<string, unknown> = {};
				if (random(2) === 0) query.definition = pick(['deploy', 'backup', 'cut', 'none']);
				if (random(2) === 0) query.key = pick(['k1', 'k2', 'k3', 'none']);
				if (random(3) === 0) query.status = pick(RUN_STATUSES);
				else if (random(2) === 0) query.status = [pick(RUN_STATUSES), pick(RUN_STATUSES), pick(RUN_STATUSES)];
				if (random(2) === 0) query.from = 5_000 + random(40);
				if (random(2) === 0) query.to = 5_000 + random(45);
				if (random(2) === 0) query.offset = random(20);
				if (random(2) === 0) query.limit = 1 + random(30);
				if (random(2) === 0) query.order = pick(['asc', 'desc']);
				queries.push(query as RunQuery);
			}
			for (const query of queries) {
				const [got, expected] = [await redisStore.list(query), await memory.list(query)];
				expect({ query, total: got.total, ids: got.runs.map((r) => r.id) }).toEqual({
					query,
					total: expected.total,
					ids: expected.runs.map((r) => r.id),
				});
				expect(got.runs).toEqual(expected.runs);
			}
			const byAge = (list: RunRecord[]): string[] => list.map((r) => r.id);
			const openSorted = (await memory.list({ limit: 1000 })).runs.filter((r) => r.open);
			expect(byAge(await redisStore.open(1000))).toEqual(byAge(openSorted));
			expect(byAge(await redisStore.open(5))).toEqual(byAge(openSorted.slice(0, 5)));
			// Close every run, then remove them all: only the definitions' hash may stay.
			for (const run of (await redisStore.list({ limit: 1000 })).runs) {
				const closed = await redisStore.update({ ...run, status: 'succeeded' as RunStatus, open: false });
				expect(closed).not.toBeNull();
				expect(await redisStore.remove(run.id)).toBe(true);
			}
			const client = new Redis(url());
			try {
				expect(await client.keys(`lightsched:{${name}}:*`)).toEqual([]);
			} finally {
				client.disconnect();
			}
		} finally {
			await redisStore.close();
		}
	});

	it('creates, and updates, issued in the same tick go as one script call each, each with its own outcome', async () => {
		const client = new Redis(url());
		const store = new RedisWorkflowStore({ redis: url(), name: `gather${++n}` });
		const scriptCalls = async (): Promise<number> => {
			const stats = await client.info('commandstats');
			return Number(/cmdstat_evalsha:calls=(\d+)/.exec(stats)?.[1] ?? 0);
		};
		try {
			// The scripts loaded first (a first call is answered NOSCRIPT and sent again whole).
			const warm = sampleRun();
			await store.create(warm);
			await store.update(warm);
			const runs = Array.from({ length: 10 }, () => sampleRun());
			let before = await scriptCalls();
			const created = await Promise.allSettled([...runs.map((run) => store.create(run)), store.create(runs[3]!)]);
			expect(await scriptCalls()).toBe(before + 1);
			expect(created.slice(0, 10).every((result) => result.status === 'fulfilled')).toBe(true);
			expect(created[10]).toMatchObject({ status: 'rejected', reason: { name: 'DuplicateRunError' } });
			before = await scriptCalls();
			// Two updates of one run from the same rev: the first applies, the second finds the rev moved.
			const updated = await Promise.all([...runs.map((run) => store.update(run)), store.update(runs[5]!)]);
			expect(await scriptCalls()).toBe(before + 1);
			expect(updated.slice(0, 10).map((run) => run?.rev)).toEqual(runs.map(() => 1));
			expect(updated[10]).toBeNull();
			for (const run of runs) expect((await store.get(run.id))?.rev).toBe(1);
		} finally {
			await store.close();
			client.disconnect();
		}
	});

	it('shares an ioredis instance it was given, and leaves it open at close', async () => {
		const client = new Redis(url());
		try {
			const store = new RedisWorkflowStore({ redis: client, name: `given${++n}` });
			const run = sampleRun();
			await store.create(run);
			expect((await store.get(run.id))?.id).toBe(run.id);
			await store.close();
			expect(client.status).toBe('ready');
			expect(await client.exists(`lightsched:{given${n}}:wf:r:${run.id}`)).toBe(1);
			await expect(store.get(run.id)).rejects.toThrow(/closed/);
		} finally {
			client.disconnect();
		}
	});

	it('a stopped server: calls reject with a ContainerError naming the server, in bounded time', async () => {
		const own = await startRedis();
		const store = new RedisWorkflowStore({
			redis: own.url,
			name: 'down',
			connectTimeoutMs: 500,
			commandTimeoutMs: 1000,
		});
		try {
			const run = sampleRun();
			await store.create(run);
			await own.stop();
			for (const call of [
				() => store.get(run.id),
				() => store.update(run),
				() => store.list(),
				() => store.open(10),
			]) {
				const started = Date.now();
				const error = await call().catch((e: unknown) => e);
				const took = Date.now() - started;
				expect(error).toBeInstanceOf(ContainerError);
				expect((error as Error).message).toContain(`RedisWorkflowStore \`lightsched:{down}:\``);
				expect((error as Error).message).toContain(`127.0.0.1:${own.port}`);
				// Bounded by connectTimeoutMs (generous margin for a loaded machine), not ioredis's minute of retries.
				expect(took).toBeLessThan(5000);
			}
			// Back: the store works again without being rebuilt.
			// (ioredis reconnects with a growing delay: calls fail until it is connected, then work; no data was saved.)
			await own.restart();
			await until(
				() =>
					store.list().then(
						(page) => page.total === 0,
						() => false,
					),
				15_000,
				'the store to answer again',
			);
			await store.create(sampleRun());
			expect((await store.list()).total).toBe(1);
		} finally {
			await store.close();
			await own.close();
		}
	}, 30_000);
});
