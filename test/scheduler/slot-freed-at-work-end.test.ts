/**
 * A slot is freed when an attempt's work ends, not when its outcome is stored: the next task starts while the store
 * runs in the background. Works running stay at most `concurrency`; outcomes being stored count against the slots
 * only past `concurrency` of them, so a container that does not store (an outage) stops the claims with at most twice
 * `concurrency` tasks held. Events and `waitFor` still follow the store.
 */
import { describe, expect, it, vi } from 'vitest';
import { Scheduler, type TaskContainer } from 'lightsched';
import { QueueContainer } from 'lightsched/containers/queue';
import { FunctionActuator } from 'lightsched/actuators/function';
import { withTransition } from '../support/with-transition.js';

/** `inner` without its synchronous face, whose moves to a final status wait until `open()` is called. */
function gatedStores(inner: QueueContainer): { container: TaskContainer; open: () => void; waiting: () => number } {
	let open: () => void = () => undefined;
	const gate = new Promise<void>((resolve) => (open = resolve));
	let waiting = 0;
	const container = withTransition(inner, async (id, from, to, patch, owner, claim) => {
		if (to === 'succeeded' || to === 'failed') {
			waiting++;
			await gate;
			waiting--;
		}
		return inner.transition(id, from, to, patch, owner, claim);
	});
	return { container, open, waiting: () => waiting };
}

describe('a slot is free when the work ends', () => {
	it('the next task starts before the last outcome is stored; works and stores each stay within concurrency', async () => {
		const { container, open, waiting } = gatedStores(new QueueContainer());
		let runs = 0;
		let working = 0;
		let mostWorking = 0;
		const scheduler = new Scheduler({
			container,
			concurrency: 2,
			actuator: new FunctionActuator(async (n: number) => {
				runs++;
				mostWorking = Math.max(mostWorking, ++working);
				await new Promise((resolve) => setTimeout(resolve, 5));
				working--;
				return n * 2;
			}),
		});
		const succeeded: string[] = [];
		scheduler.on('task:succeeded', ({ task }) => succeeded.push(task.id));
		await scheduler.add([1, 2, 3, 4, 5, 6].map((n) => ({ id: `t${n}`, item: n })));
		// No outcome is stored, yet the first two tasks' slots went to the next two: four works ran.
		await vi.waitFor(() => expect(waiting()).toBe(4));
		// Four outcomes waiting to be stored (twice the concurrency): no fifth task is claimed.
		await new Promise((resolve) => setTimeout(resolve, 100));
		expect(runs).toBe(4);
		expect(mostWorking).toBeLessThanOrEqual(2);
		expect(succeeded).toEqual([]);
		expect(scheduler.running).toBe(4);
		expect(await scheduler.get('t1')).toMatchObject({ status: 'running' });
		expect(await scheduler.get('t5')).toMatchObject({ status: 'waiting' });
		open();
		await scheduler.onIdle();
		expect(runs).toBe(6);
		expect(mostWorking).toBeLessThanOrEqual(2);
		expect([...succeeded].sort()).toEqual(['t1', 't2', 't3', 't4', 't5', 't6']);
		expect(await scheduler.get('t6')).toMatchObject({ status: 'succeeded', output: 12, attempts: 1 });
		await scheduler.close();
	});
});
