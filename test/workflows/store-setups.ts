/**
 * The workflow stores the shared-store tests run on, each beside the container it goes with: memory, SQLite,
 * PostgreSQL (a SqlWorkflowStore on the SqlContainer's connection) and Redis (a RedisWorkflowStore on the
 * RedisContainer's). Apart from fixture.ts so that the other workflow tests do not load the SQL and Redis containers.
 */
import { afterAll, beforeAll } from 'vitest';
import type { TaskContainer } from 'lightsched';
import { QueueContainer } from 'lightsched/containers/queue';
import { RedisContainer, RedisWorkflowStore } from 'lightsched/containers/redis';
import { SqlContainer, SqlWorkflowStore } from 'lightsched/containers/sql';
import { MemoryWorkflowStore, type WorkflowStore } from 'lightsched/workflows';
import { startRedis, type RedisServer } from '../support/redis.js';
import { postgresBackend, sqliteBackend, type SqlBackend } from '../support/sql.js';

export type StoreKind = 'memory' | 'SQLite' | 'PostgreSQL' | 'Redis';
export const STORE_KINDS: readonly StoreKind[] = ['memory', 'SQLite', 'PostgreSQL', 'Redis'];

/** A container and the workflow store beside it, as one process opens them. */
export interface ContainerAndStore {
	readonly container: TaskContainer;
	readonly store: WorkflowStore;
}

/** Opens a process's container and store on one place (each call another process's, with its own connection). */
export type OpenStore = () => ContainerAndStore;

/**
 * The servers of the calling test file: a folder of SQLite files, a PostgreSQL server and a redis-server, started
 * before its tests and stopped after them. `fresh(kind)` makes a new, empty place on one (a database, a Redis
 * name) and says how a process opens its container and store there; on memory, each open is a store of its own.
 * Call it at the top level of the file.
 */
export function storeServers(): { fresh(kind: StoreKind): Promise<OpenStore> } {
	const sqlite = sqliteBackend();
	let postgres: SqlBackend | undefined;
	let redis: RedisServer | undefined;
	let n = 0;
	beforeAll(async () => {
		[postgres, redis] = await Promise.all([postgresBackend(), startRedis()]);
	}, 120_000);
	afterAll(async () => {
		await sqlite.stop();
		await postgres?.stop();
		await redis?.close();
	});
	const sql = async (backend: SqlBackend | undefined): Promise<OpenStore> => {
		if (backend === undefined) throw new Error('PostgreSQL is not started (storeServers starts it in beforeAll)');
		const knex = await backend.freshDatabase();
		return () => {
			const container = new SqlContainer({ knex });
			return { container, store: new SqlWorkflowStore({ container }) };
		};
	};
	return {
		fresh: async (kind) => {
			switch (kind) {
				case 'memory':
					return () => ({ container: new QueueContainer(), store: new MemoryWorkflowStore() });
				case 'SQLite':
					return sql(sqlite);
				case 'PostgreSQL':
					return sql(postgres);
				case 'Redis': {
					if (redis === undefined) throw new Error('redis-server is not started (storeServers starts it)');
					const url = redis.url;
					const name = `flows${++n}`;
					return () => {
						const container = new RedisContainer({ redis: url, name, log: false });
						return { container, store: new RedisWorkflowStore({ container }) };
					};
				}
			}
		},
	};
}
