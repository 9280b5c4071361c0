import { describe, expect, it } from 'vitest';
import { Scheduler } from 'lightsched';
import { QueueContainer } from 'lightsched/containers/queue';
import { OrderedMapContainer } from 'lightsched/containers/ordered-map';
import { FunctionActuator } from 'lightsched/actuators/function';
import { useFakeClock } from '../support/fake-clock.js';
import { sleep, spyContainer } from '../support/scheduler.js';

describe('concurrency', () => {
	it.each([1, 7, 100])('never runs more than concurrency=%i under a burst of 10,000 adds', async (concurrency) => {
		let inFlight = 0;
		let maxInFlight = 0;
		let maxRunningInContainer = 0;
		const container = new QueueContainer();
		const scheduler = new Scheduler({
			container,
			concurrency,
			actuator: new FunctionActuator(async (n: number) => {
				inFlight++;
				maxInFlight = Math.max(maxInFlight, inFlight);
				await (n % 3 === 0 ? new Promise((resolve) => setImmediate(resolve)) : Promise.resolve());
				inFlight--;
				return n;
			}),
		});
		scheduler.on('task:started', () => {
			void container.counts().then((c) => {
				maxRunningInContainer = Math.max(maxRunningInContainer, c.running + c.exporting);
			});
		});
		// Half as one batch, half one by one without awaiting: a real burst.
		await scheduler.add(Array.from({ length: 5_000 }, (_, i) => ({ item: i })));
		await Promise.all(Array.from({ length: 5_000 }, (_, i) => scheduler.add({ item: 5_000 + i })));
		await scheduler.onIdle();
		expect(await scheduler.counts()).toMatchObject({ waiting: 0, running: 0, succeeded: 10_000, failed: 0 });
		expect(maxInFlight).toBeLessThanOrEqual(concurrency);
		expect(maxInFlight).toBe(concurrency);
		expect(maxRunningInContainer).toBeLessThanOrEqual(concurrency);
		await scheduler.close();
	});

	it('runs higher priority first with the ordered-map container', async () => {
		const order: string[] = [];
		const scheduler = new Scheduler({
			container: new OrderedMapContainer(),
			actuator: new FunctionActuator((item: string) => {
				order.push(item);
			}),
			autoStart: false,
		});
		await scheduler.add([
			{ item: 'low', priority: -5 },
			{ item: 'normal-1' },
			{ item: 'urgent', priority: 10 },
			{ item: 'normal-2' },
		]);
		scheduler.resume();
		await scheduler.onIdle();
		expect(order).toEqual(['urgent', 'normal-1', 'normal-2', 'low']);
		await scheduler.close();
	});
});

describe('event-driven loop', () => {
	it('starts an added task at once, without waiting for a poll tick', async () => {
		const scheduler = new Scheduler({
			container: new QueueContainer(),
			actuator: new FunctionActuator(() => 'ok'),
			pollIntervalMs: 600_000,
		});
		await sleep(20);
		const started = Date.now();
		await scheduler.add({ id: 'a', item: 1 });
		await scheduler.onIdle();
		expect((await scheduler.get('a'))?.status).toBe('succeeded');
		// A poll tick would be ten minutes away; the task finished long before any could fire.
		expect(Date.now() - started).toBeLessThan(5_000);
		await scheduler.close();
	});

	it('does not touch the container while idle (nothing spins)', async () => {
		const spy = spyContainer(new QueueContainer());
		const scheduler = new Scheduler({
			container: spy.container,
			actuator: new FunctionActuator(() => 1),
			pollIntervalMs: 1,
		});
		await scheduler.add({ item: 1 });
		await scheduler.onIdle();
		// The retention expiry pass (src/retention.ts) runs once within the first second, then once a minute: a
		// periodic pass, not a poll; the idle window starts after that first pass.
		await sleep(1_050);
		const before = { ...spy.calls };
		await sleep(300);
		expect(spy.calls).toEqual(before);
		await scheduler.close();
	});

	it('sleeps until a delayed task is due, then runs it', async () => {
		// On a fake clock (test/support/fake-clock.ts): the wake-up is a timer, the due time a Date.now() reading.
		const clock = useFakeClock();
		const spy = spyContainer(new QueueContainer());
		const scheduler = new Scheduler({
			container: spy.container,
			actuator: new FunctionActuator(() => Date.now()),
		});
		const runAt = Date.now() + 150;
		await scheduler.add({ id: 'later', item: 1, runAt });
		await clock.advance(50);
		const claimsWhileWaiting = spy.calls.claim ?? 0;
		await clock.settle(scheduler.onIdle());
		const task = await scheduler.get('later');
		expect(task?.status).toBe('succeeded');
		expect(task?.output as number).toBeGreaterThanOrEqual(runAt);
		// Woken at the due time by its timer, not by a later poll.
		expect(task?.output as number).toBeLessThan(runAt + 20);
		expect(claimsWhileWaiting).toBeLessThanOrEqual(3);
		await clock.settle(scheduler.close());
	});
});
