/**
 * A container that is down: background failures (claims, renewals, sweeps, due-time look-ups) are reported once
 * per outage, with a count, and the recovery too; the scheduler keeps running and resumes by itself; close()
 * settles every call in flight.
 *
 * The outage tests run on a fake clock (test/support/fake-clock.ts): the container is an in-process double whose
 * outage is a timer.
 */
import { describe, expect, it } from 'vitest';
import { Scheduler, SchedulerClosedError, type PartDownEvent, type PartUpEvent, type TaskActuator } from 'lightsched';
import { QueueContainer } from 'lightsched/containers/queue';
import { FunctionActuator } from 'lightsched/actuators/function';
import { useFakeClock } from '../support/fake-clock.js';
import { sleep } from '../support/scheduler.js';
import { sharedDouble } from './shared-double.js';

describe('a container that goes down and comes back', () => {
	it('is reported once per outage (one error, container:down), counted, then container:up; work resumes by itself', async () => {
		const clock = useFakeClock();
		const { container, faults } = sharedDouble();
		const scheduler = new Scheduler({
			container,
			actuator: new FunctionActuator((n: number) => n * 2),
			leaseMs: 200,
			pollIntervalMs: 50,
		});
		const errors: Error[] = [];
		const downs: PartDownEvent[] = [];
		const ups: PartUpEvent[] = [];
		scheduler.on('error', (error) => errors.push(error));
		scheduler.on('container:down', (event) => downs.push(event));
		scheduler.on('container:up', (event) => ups.push(event));
		await scheduler.add({ id: 'before', item: 1 });
		await clock.settle(scheduler.onIdle());
		// Down: each call rejects only after 300 ms, longer than the sweep's period (100 ms), as a client that
		// retries before giving up. Timers firing meanwhile must not pile up calls that then fail together.
		faults.downMs = 300;
		await clock.advance(1_500);
		expect(errors.map((e) => e.message)).toHaveLength(1);
		expect(downs).toHaveLength(1);
		expect(downs[0]).toMatchObject({ part: 'container', failures: 1 });
		expect(downs[0]?.error.message).toContain('ECONNREFUSED');
		expect(errors).toHaveLength(1);
		expect(errors[0]?.message).toMatch(
			/failed \(reported once until the container recovers\): connect ECONNREFUSED/,
		);
		expect(ups).toHaveLength(0);
		delete faults.downMs;
		await clock.advance(400);
		expect(ups).toHaveLength(1);
		expect(ups[0]?.failures).toBeGreaterThanOrEqual(2);
		// One call per kind at a time, each taking 300 ms: no more than a few dozen in 1.5 s (piled up, hundreds).
		expect(ups[0]?.failures).toBeLessThan(40);
		expect(ups[0]?.durationMs).toBeGreaterThanOrEqual(1_000);
		expect(errors).toHaveLength(1);
		const task = await scheduler.add({ id: 'after', item: 21 });
		expect(task.status).toBe('waiting');
		await clock.settle(scheduler.onIdle());
		expect(await scheduler.get('after')).toMatchObject({ status: 'succeeded', output: 42 });
		await clock.settle(scheduler.close());
	});

	it('a second outage is reported again', async () => {
		const clock = useFakeClock();
		const { container, faults } = sharedDouble();
		const scheduler = new Scheduler({
			container,
			actuator: new FunctionActuator(() => 1),
			leaseMs: 200,
			pollIntervalMs: 50,
		});
		let downs = 0;
		let ups = 0;
		scheduler.on('error', () => undefined);
		scheduler.on('container:down', () => downs++);
		scheduler.on('container:up', () => ups++);
		for (let round = 0; round < 2; round++) {
			faults.downMs = 20;
			await clock.advance(400);
			delete faults.downMs;
			await clock.advance(300);
		}
		expect([downs, ups]).toEqual([2, 2]);
		await clock.settle(scheduler.close());
	});
});

describe('close() with calls in flight', () => {
	it('settles an add(), get() and stop() that wait on a container that never answers', async () => {
		const { container, faults } = sharedDouble();
		const scheduler = new Scheduler({ container, actuator: new FunctionActuator(() => 1), leaseMs: 200 });
		scheduler.on('error', () => undefined);
		faults.hang = true;
		const pending = [
			scheduler.add({ id: 'a', item: 1 }),
			scheduler.get('a'),
			scheduler.stop('a'),
			scheduler.counts(),
		];
		const settled = Promise.allSettled(pending);
		await sleep(50);
		await scheduler.close();
		const results = await Promise.race([settled, sleep(5_000).then(() => 'still pending' as const)]);
		expect(results).not.toBe('still pending');
		for (const result of results as PromiseSettledResult<unknown>[]) {
			expect(result.status).toBe('rejected');
			expect((result as PromiseRejectedResult).reason).toBeInstanceOf(SchedulerClosedError);
		}
		await expect(scheduler.get('a')).rejects.toBeInstanceOf(SchedulerClosedError);
	});
});

describe('an actuator whose status polls fail for a while', () => {
	it('is reported once (actuator:down, one error), then actuator:up; the polled task still finishes', async () => {
		let failing = 0;
		let polls = 0;
		const actuator: TaskActuator<number, number> = {
			start: () => ({ ref: 'job' }),
			status: async (tasks) => {
				polls++;
				if (polls <= 8) {
					failing++;
					throw new Error('connect ECONNREFUSED 127.0.0.1:9 (job service)');
				}
				return tasks.map((task) => ({ state: 'succeeded' as const, output: task.item * 2 }));
			},
			stop: () => undefined,
		};
		const scheduler = new Scheduler({ container: new QueueContainer(), actuator, pollIntervalMs: 10 });
		const errors: Error[] = [];
		const downs: PartDownEvent[] = [];
		const ups: PartUpEvent[] = [];
		scheduler.on('error', (error) => errors.push(error));
		scheduler.on('actuator:down', (event) => downs.push(event));
		scheduler.on('actuator:up', (event) => ups.push(event));
		await scheduler.add({ id: 'polled', item: 21 });
		await scheduler.onIdle();
		expect(failing).toBe(8);
		expect(errors).toHaveLength(1);
		expect(downs).toMatchObject([{ part: 'actuator', operation: 'status poll', failures: 1 }]);
		expect(ups).toMatchObject([{ part: 'actuator', failures: 8, operations: ['status poll'] }]);
		expect(await scheduler.get('polled')).toMatchObject({ status: 'succeeded', output: 42 });
		await scheduler.close();
	});
});
