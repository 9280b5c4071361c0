/**
 * RedisContainer through a failover that Redis Sentinel runs (a master, its replica, three sentinels:
 * test/support/redis-sentinel.ts), with ioredis finding the master through the sentinels (`sentinels`, `name`):
 * the schedulers follow the master to the promoted replica by themselves, with no restart.
 * - A failover the sentinels are told to make (`SENTINEL FAILOVER`: the replica promoted, the old master made its
 *   replica and its clients disconnected).
 * - A master that stops answering (frozen with SIGSTOP: a crash behind open connections, or a partition), failed
 *   over after `down-after-milliseconds`.
 * - A master killed (SIGKILL), on connections the container made from the same options.
 * Redis replicates after it acknowledges, so a write acknowledged in the master's last moments can be lost with it
 * (docs/containers/redis.md): the tests fence the adds (a write and `WAIT` for the replica) so that none is lost,
 * and then require every task and run added before the failover to finish, each task at least once, and print how
 * many ran again.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Redis, type RedisOptions } from 'ioredis';
import { RedisContainer } from 'lightsched/containers/redis';
import type { RunRecord } from 'lightsched/workflows';
import { records } from '../contracts/container.contract.js';
import { failoverSchedulers } from '../support/failover-schedulers.js';
import { startRedisSentinel, type RedisSentinel } from '../support/redis-sentinel.js';
import { recordingScheduler } from '../support/scheduler.js';

let setup: RedisSentinel | undefined;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

afterEach(async () => {
	await setup?.close();
	setup = undefined;
});

/** Write a key on the master on `port` and wait until its replica has it (and so every earlier write). */
async function replicated(port: number): Promise<void> {
	const client = new Redis(port, '127.0.0.1');
	try {
		await client.set('fence', String(Date.now()));
		expect(Number(await client.call('WAIT', '1', '5000'))).toBe(1);
	} finally {
		client.disconnect();
	}
}

/**
 * Two schedulers on their own connections (`redis` makes each) sharing one container, a workflow engine on each.
 * Once 50 plain tasks have started, every task and step waits in its action until `open()`: the failure comes
 * while they run.
 */
function schedulers(redis: () => Redis | RedisOptions) {
	let open = (): void => undefined;
	const gate = new Promise<void>((resolve) => (open = resolve));
	const workers = failoverSchedulers('failover', redis, async () => {
		await sleep(5);
		if (workers.runs.size >= 50) await gate;
	});
	return { ...workers, open: () => open() };
}

/**
 * Start 20 four-step runs and 300 tasks, fence them, let some run, then `fail` the master; every one must finish
 * (read by the second scheduler). Returns how long after the failure everything was done.
 */
async function throughFailover(
	sentinel: RedisSentinel,
	redis: () => Redis | RedisOptions,
	fail: (master: number) => Promise<void> | void,
): Promise<{ doneMs: number; again: number; stepsAgain: number }> {
	const { built, runs, steps, open, close } = schedulers(redis);
	const [first, second] = built;
	if (first === undefined || second === undefined) throw new Error('no scheduler');
	try {
		const master = await sentinel.master();
		const started = await Promise.all(Array.from({ length: 20 }, () => first.flows.start('chain')));
		const added = await first.scheduler.add(Array.from({ length: 300 }, (_, i) => ({ item: `t${i}` })));
		await replicated(master);
		while (runs.size < 50) await sleep(10);

		const failedAt = Date.now();
		await fail(master);
		const ranBefore = runs.size;
		expect(ranBefore).toBeLessThan(300); // the failure came while tasks still ran
		open();
		const promoted = await sentinel.untilFailedOver(master);
		const promotedMs = Date.now() - failedAt;
		expect(promoted).not.toBe(master);

		const done = await Promise.all(added.map((task) => second.scheduler.waitFor(task.id, { timeoutMs: 60_000 })));
		expect(done.every((task) => task.status === 'succeeded')).toBe(true);
		expect(runs.size).toBe(300);
		const finished = await Promise.all(started.map((run) => second.flows.wait(run.id, { timeoutMs: 60_000 })));
		const doneMs = Date.now() - failedAt;
		expect(finished.map((run: RunRecord) => run.status)).toEqual(started.map(() => 'succeeded'));
		expect(finished[0]?.steps['s4']?.output).toBe(5);
		expect(steps.size).toBe(20 * 4);
		const again = [...runs.values()].filter((count) => count > 1).length;
		const stepsAgain = [...steps.values()].filter((count) => count > 1).length;
		console.log(
			`${ranBefore} of 300 tasks run at the failure: replica promoted after ${promotedMs} ms, all done after ` +
				`${doneMs} ms; ${again} tasks and ${stepsAgain} steps ran again`,
		);
		// After the failover, new work goes to the new master.
		const late = await first.scheduler.add({ item: 'late' });
		expect((await second.scheduler.waitFor(late.id, { timeoutMs: 20_000 })).status).toBe('succeeded');
		return { doneMs, again, stepsAgain };
	} finally {
		open();
		for (const server of sentinel.servers) server.resume();
		await close();
	}
}

describe('RedisContainer through a Redis Sentinel failover', () => {
	it('a failover the sentinels are told to make: everything added before it runs', async () => {
		setup = await startRedisSentinel();
		const sentinel = setup;
		await throughFailover(
			sentinel,
			() => sentinel.connect(),
			async () => {
				const admin = new Redis(sentinel.sentinels[0]?.port ?? 0, '127.0.0.1');
				try {
					expect(await admin.call('SENTINEL', 'FAILOVER', sentinel.name)).toBe('OK');
				} finally {
					admin.disconnect();
				}
			},
		);
	}, 120_000);

	it('a master that stops answering is failed over: everything added before it runs, each at least once', async () => {
		setup = await startRedisSentinel();
		const sentinel = setup;
		const { doneMs } = await throughFailover(
			sentinel,
			() => sentinel.connect(),
			(master) => sentinel.server(master).pause(),
		);
		// The default reply bound (`commandTimeoutMs`, 10 s) and a failover of a few seconds, not a lease's 30 s.
		expect(doneMs).toBeLessThan(30_000);
	}, 120_000);

	it('a master killed, on connections the container made from the sentinel options', async () => {
		setup = await startRedisSentinel();
		const sentinel = setup;
		await throughFailover(
			sentinel,
			() => sentinel.options(),
			async (master) => {
				const server = sentinel.server(master);
				if (server.pid !== undefined) process.kill(server.pid, 'SIGKILL');
			},
		);
	}, 120_000);
});

describe('an idle scheduler through a Redis Sentinel failover', () => {
	it('runs a task another process adds after its master stopped answering and was failed over', async () => {
		setup = await startRedisSentinel();
		const sentinel = setup;
		const ran: string[] = [];
		const container = new RedisContainer({ redis: sentinel.connect(), name: 'idle', log: false });
		const scheduler = recordingScheduler(container, ran); // its channel-down report ignored
		// Another process, started after the failover, adds the task.
		let writer: RedisContainer | undefined;
		try {
			await scheduler.add({ id: 'first', item: 'first' });
			await scheduler.waitFor('first', { timeoutMs: 20_000 });
			await scheduler.onIdle();
			const master = await sentinel.master();
			sentinel.server(master).pause();
			await sentinel.untilFailedOver(master);
			writer = new RedisContainer({ redis: sentinel.options(), name: 'idle', log: false });
			const addedAt = Date.now();
			await writer.add(records([{ id: 'late', item: 'late' }], addedAt, 1));
			// Its subscriber (on the frozen master) is found silent within 5 + 5 s and made again through the sentinels.
			for (let waited = 0; !ran.includes('late') && waited < 25_000; waited += 50) await sleep(50);
			console.log(
				`idle scheduler, master frozen and failed over: the late task ran ${Date.now() - addedAt} ms after its add`,
			);
			expect(ran).toContain('late');
		} finally {
			for (const server of sentinel.servers) server.resume();
			await scheduler.close();
			await writer?.close();
		}
	}, 120_000);
});
