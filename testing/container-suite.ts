/**
 * The container contract suite: what the scheduler relies on from every `TaskContainer` (storage, claim order,
 * compare-and-set transitions, leases and the reclaim rule, duplicates, JSON items, list, remove, stop requests,
 * close). Every container of the kit runs it; a third party's container runs the same suite in its own vitest:
 *
 * ```ts
 * // my-container.test.ts
 * import { describeContainerContract } from 'lightsched/testing';
 * describeContainerContract('MyContainer', () => new MyContainer(), { priority: true, json: true });
 * ```
 *
 * The factory makes a fresh, empty container for each test (closed after it). Needs `vitest` (a peer dependency).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidStateError, type NewTask, type TaskContainer, type TaskRecord } from 'lightsched';
import { describeAdds } from './add-suite.js';
import { describeClaims } from './claim-suite.js';
import { describeGroups } from './group-suite.js';
import { describeKeys } from './key-suite.js';
import { describeLeases } from './lease-suite.js';
import { describeLists } from './list-suite.js';
import { describeOperations, type ContainerOperations } from './operations-suite.js';
import { LEASE, taskRecords } from './task-records.js';
import { describeTransitions } from './transition-suite.js';

/** What the container offers beyond the contract's core; decides which tests run. */
export interface ContainerContractOptions {
	/** The container orders by priority (higher first). */
	readonly priority: boolean;
	/** The container persists items as JSON and must reject what JSON cannot carry. */
	readonly json: boolean;
	/**
	 * The optional operations it offers (queue-wide pause, bulk clean); each offered one is tested, each other one
	 * must be absent.
	 * @default none
	 */
	readonly operations?: Partial<ContainerOperations>;
	/**
	 * The container has the synchronous face (`sync`, an in-process container's): its own clauses are tested too.
	 * @default false
	 */
	readonly sync?: boolean;
}

/** Makes a fresh, empty container (each test calls it once and closes what it made). */
export type ContainerFactory = () => Promise<TaskContainer> | TaskContainer;

/**
 * Build task records as the scheduler would (`createTaskRecord` for each, named `tasks[i]` in errors), to give
 * a container's `add` directly.
 * @param now the time they are created at (and due at, unless a task gives `runAt`)
 * @param maxAttempts the attempts each task allows, unless it gives its own
 */
export function records(tasks: readonly NewTask[], now = Date.now(), maxAttempts = 3): TaskRecord[] {
	return taskRecords(tasks, now, maxAttempts);
}

/**
 * Declare the contract's tests (one vitest `describe` block named `<name>: container contract`) for the
 * containers `factory` makes. Call it at the top level of a `*.test.ts` file.
 * @param name how the container set-up is named in the test report
 */
export function describeContainerContract(
	name: string,
	factory: ContainerFactory,
	options: ContainerContractOptions,
): void {
	describe(`${name}: container contract`, () => {
		const opened: TaskContainer[] = [];
		const make = async (): Promise<TaskContainer> => {
			const container = await factory();
			opened.push(container);
			return container;
		};
		afterEach(async () => {
			for (const container of opened.splice(0)) await container.close();
		});

		describeClaims(make, options.priority);
		describeTransitions(make);
		describeLeases(make);
		describeAdds(make, { json: options.json, sync: options.sync === true });
		describeLists(make);

		it('removes finished tasks only', async () => {
			const c = await make();
			await c.add(
				records([
					{ id: 'a', item: 1 },
					{ id: 'b', item: 2 },
				]),
			);
			await expect(c.remove('a')).rejects.toBeInstanceOf(InvalidStateError);
			await c.transition('a', 'waiting', 'stopped', { finishedAt: Date.now() });
			expect(await c.remove('a')).toBe(true);
			expect(await c.get('a')).toBeNull();
			expect(await c.remove('a')).toBe(false);
			expect(await c.counts()).toMatchObject({ waiting: 1, stopped: 0 });
		});

		it('asks to stop running tasks only', async () => {
			const c = await make();
			await c.add(
				records([
					{ id: 'a', item: 1 },
					{ id: 'b', item: 2 },
				]),
			);
			expect(await c.requestStop('a')).toBeNull();
			await c.claim(1, 'o', LEASE, Date.now());
			expect(await c.requestStop('a')).toMatchObject({ stopRequested: true, status: 'running' });
			expect(await c.requestStop('missing')).toBeNull();
		});

		it('refuses adds once closed; a second close is harmless', async () => {
			const c = await factory();
			await c.close();
			await expect(c.add(records([{ id: 'a', item: 1 }]))).rejects.toMatchObject({
				code: 'ERR_SCHEDULER_CLOSED',
			});
			await c.close();
		});

		describeKeys(make);
		describeGroups(make);
		describeOperations(make, { pause: false, clean: false, repeats: false, logs: false, ...options.operations });
	});
}
