/**
 * The container and run store of a workflow worker process (crash-worker.ts, schedule-worker.ts): a SqlContainer
 * with a SqlWorkflowStore sharing its connection, or a RedisContainer with a RedisWorkflowStore sharing its ioredis
 * instance.
 */
import { Redis } from 'ioredis';
import type { Knex } from 'knex';
import type { TaskContainer } from 'lightsched';
import { RedisContainer, RedisWorkflowStore } from 'lightsched/containers/redis';
import { SqlContainer, SqlWorkflowStore } from 'lightsched/containers/sql';
import type { WorkflowStore } from 'lightsched/workflows';

/** Where a worker's runs live: a knex config, or a Redis URL and container name. */
export interface WorkerBackend {
	readonly sql?: Knex.Config;
	readonly redis?: { readonly url: string; readonly name: string };
}

export function openWorkerStore(backend: WorkerBackend): { container: TaskContainer; store: WorkflowStore } {
	if (backend.redis !== undefined) {
		const client = new Redis(backend.redis.url);
		return {
			container: new RedisContainer({ redis: client, name: backend.redis.name, log: false }),
			store: new RedisWorkflowStore({ redis: client, name: backend.redis.name }),
		};
	}
	const sql = new SqlContainer({ knex: backend.sql as Knex.Config });
	return { container: sql, store: new SqlWorkflowStore({ container: sql }) };
}
