/**
 * A task claimed ahead or handed over and held for its owner (src/held-tasks.ts) is the container's until its
 * owner's claim takes it or its hand-back settles: a renewal that leaves it out never reports it as `unknown`
 * (RenewResult), not even while the container is handing it back because its hold lapsed. It used to be reported
 * then: the renewal read the task as running for the owner, the hold lapsed while the renewal waited for a claim in
 * flight, and the held list no longer named it. The scheduler then handed it back itself (reading it and moving it,
 * owner compared, under its claim fence), after the container's own hand-back, once a transition batch or an add's
 * hand-off had claimed it again for the same owner and it was held again: that later claim was moved back to
 * waiting while the container held it, its owner's next claim started it, and a claim of the waiting task started
 * it a second time, its lease never found expired (test/workflows/faults.test.ts, "every connection cut every
 * 150 ms": 4 of 53 runs of its Redis cases before, 0 of 61 after).
 *
 * The replies are held back in the client (a caller's ioredis instance whose `call` waits before resolving), the
 * commands applied on the server at once: the order of events is fixed, not timed.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { RedisContainer } from 'lightsched/containers/redis';
import { successPatch, type TaskRecord } from 'lightsched/kit';
import { records } from '../contracts/container.contract.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { aroundScriptCalls } from '../support/script-calls.js';

let server: RedisServer;
beforeAll(async () => {
	server = await startRedis();
});
afterAll(async () => {
	await server?.close();
});

/** A gate: calls whose arguments match wait for `open()` before their reply is handed on. */
interface Gate {
	matches(args: readonly unknown[]): boolean;
	readonly opened: Promise<void>;
	open(): void;
	/** How many replies waited on it. */
	held: number;
}

function gate(matches: (args: readonly unknown[]) => boolean): Gate {
	let open = (): void => {};
	const opened = new Promise<void>((resolve) => (open = resolve));
	return { matches, opened, open, held: 0 };
}

/** An ioredis instance whose replies to calls a gate matches wait for the gate (the server applies them at once). */
function gatedRedis(url: string, gates: Gate[]): Redis {
	const redis = new Redis(url, { lazyConnect: false });
	aroundScriptCalls(redis, (command, args, send) => {
		const reply = send(command, args);
		const held = gates.find((g) => g.matches(args));
		if (held === undefined) return reply;
		held.held++;
		return reply.then(async (value) => {
			await held.opened;
			return value;
		});
	});
	return redis;
}

it('a held task whose hold lapsed is not reported unknown by a renewal while its hand-back is on its way', async () => {
	// The claim of another owner, o2: the renewal waits for it (every claim in flight) before it sorts what it read.
	const otherClaim = gate((args) => args.includes('o2'));
	// The hand-back of the held task: its reply comes after the renewal sorted.
	const handBack = gate((args) =>
		args.some((arg) => typeof arg === 'string' && arg.includes('"b","running","waiting"')),
	);
	const redis = gatedRedis(server.url, [otherClaim, handBack]);
	const container = new RedisContainer({
		redis,
		name: `held-hand-back-${process.pid}`,
		log: false,
		clock: 'caller',
		handOff: false,
	});
	try {
		await container.add(
			records([
				{ id: 'a', item: 1 },
				{ id: 'b', item: 2 },
				{ id: 'c', item: 3 },
			]),
		);
		const t0 = Date.now();
		// A full claim: o1 has a backlog, so its finished task claims the next one ahead, held for its next claim.
		expect((await container.claim(1, 'o1', 1_000, t0)).map((task) => task.id)).toEqual(['a']);
		const done = await container.transition('a', 'running', 'succeeded', successPatch(1), 'o1');
		expect(done?.status).toBe('succeeded');
		// o2 claims (`c`), its reply held back; o1 renews with nothing running: the server reads `b` as o1's.
		const claiming = container.claim(1, 'o2', 1_000, Date.now());
		const renewal = container.renew('o1', [], 1_000, Date.now());
		// `b` is not taken within its hold (250 ms): the container hands it back; its reply is held back too.
		await new Promise((resolve) => setTimeout(resolve, 400));
		expect(handBack.held).toBe(1);
		otherClaim.open();
		expect((await claiming).map((task) => task.id)).toEqual(['c']);
		const renewed = await renewal;
		expect(renewed.unknown).toEqual([]);
		expect(renewed.lost).toEqual([]);
		handBack.open();
		// The hand-back applied: waiting, its attempt not counted.
		let task: TaskRecord | null = null;
		for (let i = 0; i < 50; i++) {
			task = await container.get('b');
			if (task?.status === 'waiting') break;
			await new Promise((resolve) => setTimeout(resolve, 20));
		}
		expect([task?.status, task?.owner, task?.attempts]).toEqual(['waiting', null, 0]);
	} finally {
		await container.close();
		redis.disconnect();
	}
});
