/**
 * The Redis container hands back, uncounted, a task a renewal finds held for its owner that the container never
 * handed out (an orphan: containers/redis/orphans.ts). The renewal reads the held tasks first and sorts them once
 * the calls in flight settled; a task read then may since have ended and been claimed again by the same owner (a
 * retry due at once). The hand-back is for the claim the renewal read, and must not move the later claim: it used
 * to compare only the status and the owner, so it handed the new claim back (attempts lowered, the task waiting
 * while its owner ran it), the task was claimed and run a third time, and the stale attempt's success was stored
 * with the wrong count (seen in test/scheduler/fast-retry.test.ts about once in eight runs).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { RedisContainer } from 'lightsched/containers/redis';
import { retryPatch } from 'lightsched/kit';
import { records } from '../contracts/container.contract.js';
import { startRedis, type RedisServer } from '../support/redis.js';

let server: RedisServer;
beforeAll(async () => {
	server = await startRedis();
});
afterAll(async () => {
	await server?.close();
});

it('a renewal that read a task before it ended does not hand back its next claim', async () => {
	const container = new RedisContainer({ redis: server.url, name: `orphan-recheck-${process.pid}`, log: false });
	try {
		await container.add(
			records([
				{ id: 't', item: 1 },
				{ id: 'x', item: 2 },
			]),
		);
		const first = await container.claim(2, 'w', 30_000, Date.now());
		expect(first.map((task) => [task.id, task.attempts])).toEqual([
			['t', 1],
			['x', 1],
		]);
		// The owner renews only `x`: the renewal reads `t` as held and not renewed. In the same tick `t`'s attempt
		// fails with a retry due at once; the transition reaches the server after the renewal's read.
		const renewal = container.renew('w', ['x'], 30_000, Date.now());
		const retried = container.transition(
			't',
			'running',
			'waiting',
			retryPatch(new Error('fails'), Date.now()),
			'w',
		);
		const { unknown } = await renewal;
		expect((await retried)?.status).toBe('waiting');
		// The owner claims the retry at once (before the container's own calls of this tick go out).
		const again = await container.claim(1, 'w', 30_000, Date.now());
		expect(again.map((task) => [task.id, task.attempts])).toEqual([['t', 2]]);
		expect(unknown).toEqual([]);
		// Let every call the renewal led to reach the server.
		await container.nextDueAt(Date.now());
		await new Promise((resolve) => setTimeout(resolve, 50));
		const stored = await container.get('t');
		expect([stored?.status, stored?.owner, stored?.attempts]).toEqual(['running', 'w', 2]);
	} finally {
		await container.close();
	}
});

/*
 * A transition batch that claims ahead for a busy owner can claim again a task another transition of the same batch
 * handed back (the orphan hand-back, then the claim ahead, in one script call). The reply's claims ahead are held
 * before the transitions resolve; the hand-back's result used to forget the task's record then, though it was the
 * claim ahead's, so the container no longer knew it had handed the task out: the next orphan check handed back the
 * running task (seen as steps run twice in test/workflows/faults.test.ts under connection cuts).
 */
it('a hand-back whose batch claimed the task ahead again leaves the container knowing the new claim', async () => {
	const container = new RedisContainer({ redis: server.url, name: `orphan-ahead-${process.pid}`, log: false });
	try {
		await container.add(
			records([
				{ id: 'x', item: 1 },
				{ id: 'y', item: 2 },
			]),
		);
		// A full claim: `w` is busy, so its finished tasks claim ahead.
		const first = await container.claim(2, 'w', 30_000, Date.now());
		expect(first.map((task) => task.id)).toEqual(['x', 'y']);
		// One tick, one batch: `x` handed back (due at once), then `y` succeeds and claims `x` ahead for `w`.
		const handedBack = container.transition(
			'x',
			'running',
			'waiting',
			retryPatch(new Error('handed back'), Date.now()),
			'w',
		);
		const succeeded = container.transition(
			'y',
			'running',
			'succeeded',
			{ output: null, error: null, finishedAt: Date.now(), owner: null, leaseUntil: null },
			'w',
		);
		expect((await handedBack)?.status).toBe('waiting');
		expect((await succeeded)?.status).toBe('succeeded');
		// `w` takes the task claimed ahead, without a round trip.
		const again = await container.claim(1, 'w', 30_000, Date.now());
		expect(again.map((task) => [task.id, task.attempts])).toEqual([['x', 2]]);
		// `w` renews nothing: `x` is held and not renewed. The container handed it out, so the renewal reports it to
		// the owner (`unknown`) and the task stays running; it is not an orphan to hand back.
		const { unknown } = await container.renew('w', [], 30_000, Date.now());
		expect(unknown).toEqual(['x']);
		await container.nextDueAt(Date.now());
		await new Promise((resolve) => setTimeout(resolve, 50));
		const stored = await container.get('x');
		expect([stored?.status, stored?.owner, stored?.attempts]).toEqual(['running', 'w', 2]);
	} finally {
		await container.close();
	}
});
