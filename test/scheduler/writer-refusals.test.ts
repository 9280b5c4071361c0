/**
 * A write the container refuses for good (an output it cannot store) is not retried as if it were a storage blip,
 * and a scheduler id that storage would change is refused at construction.
 */
import { describe, expect, it } from 'vitest';
import { InvalidOutputError, Scheduler, type ClaimGuard, type TaskPatch, type TaskStatus } from 'lightsched';
import { QueueContainer } from 'lightsched/containers/queue';
import { FunctionActuator } from 'lightsched/actuators/function';

/** A queue that refuses, like a persistent container would, any output holding a Date. */
class DateRefusingQueue extends QueueContainer {
	transitions = 0;
	override async transition(
		id: string,
		from: TaskStatus,
		to: TaskStatus,
		patch: TaskPatch,
		owner?: string,
		claim?: ClaimGuard,
	) {
		this.transitions++;
		const output = patch.output as { when?: unknown } | null | undefined;
		if (output != null && output.when instanceof Date) {
			throw new InvalidOutputError('output.when', 'JSON', output.when);
		}
		return super.transition(id, from, to, patch, owner, claim);
	}
}

describe('writes the container refuses', () => {
	it("fails the attempt at once with the container's InvalidOutputError, without retrying the write", async () => {
		const container = new DateRefusingQueue();
		// Without the synchronous face the scheduler writes through `transition`, where the refusal happens.
		Object.defineProperty(container, 'sync', { value: undefined });
		const retried: string[] = [];
		const scheduler = new Scheduler({
			container,
			actuator: new FunctionActuator(() => ({ when: new Date(0) })),
			maxAttempts: 3,
		});
		scheduler.on('error', (error) => retried.push(String(error)));
		const task = await scheduler.add({ item: null });
		const done = await scheduler.finished().next();
		expect(done.value?.id).toBe(task.id);
		expect(done.value?.status).toBe('failed');
		expect(done.value?.error?.code).toBe('ERR_INVALID_OUTPUT');
		expect(done.value?.attempts).toBe(1);
		// One refused success write, then the failure write: no "retried" writes in between.
		expect(container.transitions).toBe(2);
		expect(retried.filter((line) => line.includes('retried'))).toEqual([]);
		await scheduler.close();
	});

	it('refuses a scheduler id that is not well-formed Unicode', () => {
		expect(
			() =>
				new Scheduler({
					id: 'worker-\ud800',
					container: new QueueContainer(),
					actuator: new FunctionActuator(() => 1),
				}),
		).toThrow(/`id`.*well-formed/);
	});
});
