/**
 * Every container kind, built fresh per test, for the input-validation suites: the two memory containers, SQL on a
 * SQLite temp file and on a throw-away PostgreSQL server, Redis on a throw-away redis-server, and a
 * CombinedContainer (queue + SQLite). Call `everyContainer()` at the top of a test file: it starts the servers
 * in `beforeAll` and closes everything in `afterAll`/`afterEach`.
 */
import { afterAll, afterEach, beforeAll } from 'vitest';
import type { TaskContainer } from 'lightsched';
import { QueueContainer } from 'lightsched/containers/queue';
import { OrderedMapContainer } from 'lightsched/containers/ordered-map';
import { SqlContainer } from 'lightsched/containers/sql';
import { RedisContainer } from 'lightsched/containers/redis';
import { CombinedContainer } from 'lightsched/containers/combined';
import { postgresBackend, sqliteBackend, type SqlBackend } from '../support/sql.js';
import { startRedis, type RedisServer } from '../support/redis.js';

export type ContainerKind =
	| 'QueueContainer'
	| 'OrderedMapContainer'
	| 'SqlContainer (SQLite)'
	| 'SqlContainer (PostgreSQL)'
	| 'RedisContainer'
	| 'CombinedContainer';

export const MEMORY_KINDS: readonly ContainerKind[] = ['QueueContainer', 'OrderedMapContainer'];
export const PERSISTENT_KINDS: readonly ContainerKind[] = [
	'SqlContainer (SQLite)',
	'SqlContainer (PostgreSQL)',
	'RedisContainer',
	'CombinedContainer',
];
export const ALL_KINDS: readonly ContainerKind[] = [...MEMORY_KINDS, ...PERSISTENT_KINDS];

export interface EveryContainer {
	/** A fresh, empty container of this kind, closed after the test. */
	make(kind: ContainerKind): Promise<TaskContainer>;
	/** The redis:// URL of the test server (for constructor tests). */
	redisUrl(): string;
}

export function everyContainer(): EveryContainer {
	const sqlite = sqliteBackend();
	let pg: SqlBackend | undefined;
	let pgKnex: Awaited<ReturnType<SqlBackend['freshDatabase']>> | undefined;
	let redis: RedisServer | undefined;
	let n = 0;
	const opened: TaskContainer[] = [];
	beforeAll(async () => {
		[pg, redis] = await Promise.all([postgresBackend(), startRedis()]);
		pgKnex = await pg.freshDatabase();
	});
	afterEach(async () => {
		for (const container of opened.splice(0)) await container.close();
	});
	afterAll(async () => {
		await Promise.all([pg?.stop(), redis?.close(), sqlite.stop()]);
	});
	const build = async (kind: ContainerKind): Promise<TaskContainer> => {
		switch (kind) {
			case 'QueueContainer':
				return new QueueContainer();
			case 'OrderedMapContainer':
				return new OrderedMapContainer();
			case 'SqlContainer (SQLite)':
				return new SqlContainer({ knex: await sqlite.freshDatabase() });
			case 'SqlContainer (PostgreSQL)':
				if (pgKnex === undefined) throw new Error('PostgreSQL not started');
				return new SqlContainer({ knex: pgKnex, tablePrefix: `v${++n}_` });
			case 'RedisContainer':
				if (redis === undefined) throw new Error('redis-server not started');
				return new RedisContainer({ redis: redis.url, name: `v${process.pid}-${++n}`, log: false });
			case 'CombinedContainer':
				return new CombinedContainer(
					new QueueContainer(),
					new SqlContainer({ knex: await sqlite.freshDatabase() }),
				);
		}
	};
	return {
		async make(kind) {
			const container = await build(kind);
			opened.push(container);
			return container;
		},
		redisUrl() {
			if (redis === undefined) throw new Error('redis-server not started');
			return redis.url;
		},
	};
}
