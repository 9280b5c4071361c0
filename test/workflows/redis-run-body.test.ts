/**
 * How a RedisWorkflowStore stores a run: its body leaves each step's fields at their defaults out (a fresh step is
 * `{}`) and reading fills them back; a body stored whole (every field present, as before) reads the same; an update
 * writes only the hash fields that changed (a step's end: body, rev and token, nothing deleted).
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisWorkflowStore } from 'lightsched/containers/redis';
import type { RunRecord, StepState } from 'lightsched/workflows';
import { newStepState } from '../../workflows/advance.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { sampleRun } from './store.contract.js';

let server: RedisServer | undefined;
let client: Redis | undefined;
let n = 0;
beforeAll(async () => {
	server = await startRedis();
	client = new Redis(server.url);
}, 60_000);
afterAll(async () => {
	client?.disconnect();
	await server?.close();
});

const redis = (): Redis => client as Redis;

function step(patch: Partial<StepState> = {}): StepState {
	return {
		status: 'waiting',
		generation: 0,
		attempts: 0,
		output: null,
		error: null,
		checkpoint: null,
		trace: [],
		startedAt: null,
		finishedAt: null,
		continued: false,
		handBack: false,
		...patch,
	};
}

/** A store of its own, and the key of a run's hash in it. */
function fresh(): { store: RedisWorkflowStore; key: (id: string) => string } {
	const name = `body${++n}`;
	return {
		store: new RedisWorkflowStore({ redis: (server as RedisServer).url, name }),
		key: (id) => `lightsched:{${name}}:wf:r:${id}`,
	};
}

describe('RedisWorkflowStore run bodies', () => {
	it("stores each step as an array (times after the run's creation, fields at their defaults left out from the end), and reads the run back whole", async () => {
		const { store, key } = fresh();
		try {
			const run = sampleRun({
				createdAt: 1,
				steps: {
					done: step({ status: 'succeeded', generation: 1, attempts: 1, startedAt: 5, finishedAt: 6 }),
					// Values that are not the defaults, though falsy or empty-looking, are kept.
					odd: step({
						status: 'failed',
						output: 0,
						checkpoint: false,
						error: { code: 'ERR_X', message: 'boom' },
						trace: ['one'],
						continued: true,
						handBack: true,
					}),
					next: step(),
					// A valid step id that would set the prototype if assigned.
					['__proto__']: step({ status: 'running', generation: 2 }),
				},
			});
			await store.create(run);
			const body = JSON.parse((await redis().hget(key(run.id), 'body')) as string) as RunRecord;
			expect(JSON.stringify(body.steps)).toBe(
				JSON.stringify({
					done: [2, 1, 1, 4, 5],
					odd: [3, 0, 0, null, null, 0, { code: 'ERR_X', message: 'boom' }, false, ['one'], true, true],
					next: [],
					['__proto__']: [1, 2],
				}),
			);
			expect(body).not.toHaveProperty('rev');
			const read = (await store.get(run.id)) as RunRecord;
			expect(read).toEqual(run);
			expect(Object.getPrototypeOf(read.steps)).toBe(Object.prototype);
			expect(Object.keys(read.steps)).toEqual(['done', 'odd', 'next', '__proto__']);
			// Each step read back has a trace array of its own.
			expect(read.steps.next?.trace).not.toBe(read.steps.done?.trace);
			expect((await store.list({})).runs).toEqual([run]);
			expect(await store.open(10)).toEqual([run]);
		} finally {
			await store.close();
		}
	});

	it("keeps every field of a step that is not at a fresh step's value (each of StepState's fields)", async () => {
		const { store } = fresh();
		try {
			const changed: Record<string, unknown> = {
				status: 'succeeded',
				generation: 3,
				attempts: 2,
				output: { done: true },
				error: { code: 'ERR_X', message: 'x' },
				checkpoint: 'half',
				trace: ['line'],
				startedAt: 7,
				finishedAt: 8,
				continued: true,
				handBack: true,
			};
			// A field StepState gains must be named here, and in workflows/run-body.ts's stepTuple.
			expect(Object.keys(newStepState()).sort()).toEqual(Object.keys(changed).sort());
			for (const [field, value] of Object.entries(changed)) {
				const run = sampleRun({ steps: { a: { ...step(), [field]: value } } });
				await store.create(run);
				expect(await store.get(run.id)).toEqual(run);
			}
		} finally {
			await store.close();
		}
	});

	it("keeps every field of a run that is not at a new run's value (each of RunRecord's fields)", async () => {
		const { store, key } = fresh();
		try {
			const changed: Partial<RunRecord> = {
				vars: { region: 'us' },
				key: 'cluster-1',
				uniqueKey: true,
				status: 'failed',
				shared: { k: [1] },
				createdAt: 5_000,
				updatedAt: 4_990,
				finishedAt: 5_007,
				deadlineAt: 65_000,
				error: { code: 'ERR_RUN_DEADLINE', message: 'late' },
				open: false,
				notified: 'failed',
			};
			// A field RunRecord gains must be named here, and in workflows/run-body.ts's encodeRunBody.
			const always = ['id', 'definition', 'version', 'steps', 'rev'];
			expect(Object.keys(sampleRun()).sort()).toEqual([...always, ...Object.keys(changed)].sort());
			for (const [field, value] of Object.entries(changed)) {
				const run = sampleRun({ [field]: value });
				await store.create(run);
				expect(await store.get(run.id)).toEqual(run);
			}
			const all = sampleRun(changed);
			await store.create(all);
			expect(await store.get(all.id)).toEqual(all);
			// The times after createdAt: updatedAt before it (another process's clock) stays negative.
			const body = JSON.parse((await redis().hget(key(all.id), 'body')) as string) as Record<string, unknown>;
			expect([body.createdAt, body.updatedAt, body.finishedAt, body.deadlineAt]).toEqual([5_000, -10, 7, 60_000]);
		} finally {
			await store.close();
		}
	});

	it('reads a body stored with each step an object, its default fields left out (as bodies were stored before arrays)', async () => {
		const { store, key } = fresh();
		try {
			const run = sampleRun({
				steps: {
					a: step({ status: 'succeeded', generation: 1, attempts: 1, startedAt: 3, finishedAt: 4 }),
					b: step({ status: 'failed', error: { code: 'ERR_X', message: 'x' }, trace: ['t'] }),
					c: step(),
				},
			});
			await store.create(run);
			await redis().hset(
				key(run.id),
				'body',
				JSON.stringify({
					...run,
					rev: undefined,
					steps: {
						a: { status: 'succeeded', generation: 1, attempts: 1, startedAt: 3, finishedAt: 4 },
						b: { status: 'failed', error: { code: 'ERR_X', message: 'x' }, trace: ['t'] },
						c: {},
					},
				}),
			);
			expect(await store.get(run.id)).toEqual(run);
			const next = await store.update({ ...run, steps: { ...run.steps, c: step({ status: 'running' }) } });
			expect(next).not.toBeNull();
			expect(await store.get(run.id)).toEqual(next);
		} finally {
			await store.close();
		}
	});

	it('reads a body stored whole, every field present (as bodies were stored first)', async () => {
		const { store, key } = fresh();
		try {
			const run = sampleRun({
				steps: { a: step({ status: 'running', generation: 1, startedAt: 3 }), b: step() },
			});
			await store.create(run);
			await redis().hset(key(run.id), 'body', JSON.stringify(run));
			expect(await store.get(run.id)).toEqual(run);
			const next = await store.update({ ...run, steps: { ...run.steps, b: step({ status: 'running' }) } });
			expect(next).not.toBeNull();
			expect(await store.get(run.id)).toEqual(next);
		} finally {
			await store.close();
		}
	});

	it('an update writes only the hash fields that changed: a step end sets body, rev and token, deletes none', async () => {
		const { store, key } = fresh();
		try {
			const run = sampleRun();
			await store.create(run);
			const before = await redis().hgetall(key(run.id));
			await redis().config('RESETSTAT');
			const next = await store.update({ ...run, steps: { a: step({ status: 'succeeded', generation: 1 }) } });
			expect(next?.rev).toBe(1);
			const stats = await redis().info('commandstats');
			const calls = (command: string): number =>
				Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);
			expect({ hset: calls('hset'), hdel: calls('hdel') }).toEqual({ hset: 1, hdel: 0 });
			const after = await redis().hgetall(key(run.id));
			expect(Object.keys(after).sort()).toEqual(Object.keys(before).sort());
			expect({ ...after, body: '', rev: '', tok: '' }).toEqual({ ...before, body: '', rev: '', tok: '' });
			expect(after.rev).toBe('1');
			// A status change still writes the fields the indexes and `remove` read.
			const closed = await store.update({ ...(next as RunRecord), status: 'succeeded', open: false });
			expect(closed).not.toBeNull();
			expect(await redis().hmget(key(run.id), 'status', 'open')).toEqual(['succeeded', '0']);
			expect(await store.remove(run.id)).toBe(true);
		} finally {
			await store.close();
		}
	});
});
