/**
 * The workers of the Redis failover tests (test/containers/redis-cluster-failover.test.ts,
 * test/containers/redis-sentinel-failover.test.ts): two schedulers on connections of their own sharing one
 * `RedisContainer`, each with a workflow engine that defines a four-step chain (`chain`, step `s<n>` returns n + 1),
 * counting how many times each plain task (by its item) and each step ran.
 */
import type { Cluster, Redis, RedisOptions } from 'ioredis';
import { Scheduler } from 'lightsched';
import { FunctionActuator, type FunctionContext } from 'lightsched/actuators/function';
import { RedisContainer, RedisWorkflowStore } from 'lightsched/containers/redis';
import { Workflows, workflowActions, type StepItem } from 'lightsched/workflows';

export interface FailoverWorker {
	readonly scheduler: Scheduler<unknown>;
	readonly store: RedisWorkflowStore;
	readonly flows: Workflows;
}

export interface FailoverSchedulers {
	readonly built: readonly FailoverWorker[];
	/** How many times each plain task ran, by its item. */
	readonly runs: Map<string, number>;
	/** How many times each step ran, by `<run id>/<step id>`. */
	readonly steps: Map<string, number>;
	/** Close the engines, schedulers and stores (the connections stay the caller's). */
	close(): Promise<void>;
}

/**
 * Two workers sharing container `name`, each on a connection `connect()` makes; every task and step calls `work()`
 * (the test's pause) after it is counted. Errors the failover causes (calls failing while the master is away) are
 * left to the test's assertions on what finished, not reported.
 */
export function failoverSchedulers(
	name: string,
	connect: () => Redis | Cluster | RedisOptions,
	work: () => Promise<void>,
): FailoverSchedulers {
	const runs = new Map<string, number>();
	const steps = new Map<string, number>();
	const built = [connect(), connect()].map((redis) => {
		const actions = workflowActions({
			step: async (params, ctx) => {
				const key = `${ctx.runId}/${ctx.stepId}`;
				steps.set(key, (steps.get(key) ?? 0) + 1);
				await work();
				return Number(params['n']) + 1;
			},
		});
		const container = new RedisContainer({ redis, name, log: false });
		const scheduler = new Scheduler<unknown>({
			container,
			// Step tasks (their item names the step) go to the workflow actions, the plain ones are counted here.
			actuator: new FunctionActuator(async (item: unknown, ctx) => {
				if (typeof item === 'object' && item !== null && 'workflow' in item)
					return actions(item as StepItem, ctx as FunctionContext<StepItem>);
				runs.set(String(item), (runs.get(String(item)) ?? 0) + 1);
				await work();
				return item;
			}),
			concurrency: 8,
		});
		scheduler.on('error', () => undefined);
		const store = new RedisWorkflowStore({ container });
		const flows = new Workflows({ scheduler, actions, store });
		flows.on('error', () => undefined);
		flows.define({
			name: 'chain',
			steps: [1, 2, 3, 4].map((n) => ({
				id: `s${n}`,
				action: 'step',
				params: { n },
				...(n > 1 ? { dependsOn: [`s${n - 1}`] } : {}),
			})),
		});
		return { scheduler, store, flows };
	});
	return {
		built,
		runs,
		steps,
		async close() {
			for (const { flows, scheduler, store } of built) {
				await flows.close();
				await scheduler.close();
				await store.close();
			}
		},
	};
}
