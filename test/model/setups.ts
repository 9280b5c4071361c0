/**
 * Every container set-up the model test and the record-fields test run on: the two memory containers (also
 * driven through their synchronous face, as the scheduler drives them), SQLite, PostgreSQL, Redis and the two
 * combinations. Servers are started once (`startSetups`) and each `make()` gives a
 * fresh, empty container on them.
 *
 * Shared containers judge time by their server's clock unless built with `clock: 'caller'` (see `contracts.ts`);
 * the model test controls the clock, so it builds them with the caller's clock.
 */
import type { Knex } from 'knex';
import type { TaskContainer } from 'lightsched';
import { QueueContainer } from 'lightsched/containers/queue';
import { OrderedMapContainer } from 'lightsched/containers/ordered-map';
import { CombinedContainer } from 'lightsched/containers/combined';
import { SqlContainer } from 'lightsched/containers/sql';
import { claimAheadOff } from '../../containers/sql/claim-ahead.js';
import { RedisContainer, type RedisContainerOptions } from 'lightsched/containers/redis';
import { postgresBackend, sqliteBackend, type SqlBackend } from '../support/sql.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { perOwner } from './per-owner.js';
import { viaSyncFace } from './sync-face.js';

export type SetupName =
	| 'queue'
	| 'ordered-map'
	| 'queue(sync)'
	| 'ordered-map(sync)'
	| 'sqlite'
	| 'sqlite(better-sqlite3)'
	| 'postgres'
	| 'redis'
	| 'redis(per-owner)'
	| 'combined(queue+sqlite)'
	| 'combined(ordered-map+sqlite)';

export const SETUP_NAMES: readonly SetupName[] = [
	'queue',
	'ordered-map',
	'queue(sync)',
	'ordered-map(sync)',
	'sqlite',
	'sqlite(better-sqlite3)',
	'postgres',
	'redis',
	'redis(per-owner)',
	'combined(queue+sqlite)',
	'combined(ordered-map+sqlite)',
];

export interface ContainerSetup {
	readonly name: SetupName;
	/** Claims by priority (higher first); the FIFO queue ignores priority. */
	readonly priority: boolean;
	/** A fresh, empty container. The caller closes it. */
	make(): Promise<TaskContainer>;
}

export interface Setups {
	readonly all: readonly ContainerSetup[];
	/** The Redis server's URL, when the Redis set-up was started. */
	readonly redisUrl?: string;
	stop(): Promise<void>;
}

/** The caller's clock on the shared containers (the option `clock`, default `'server'`). */
const CALLER_CLOCK = { clock: 'caller' } as const;

export interface SetupOptions {
	/**
	 * Redis: let a busy owner's final transition claim its next task ahead (the container's default). `false`
	 * turns claim-ahead off with a `globalConcurrency` no test reaches (the container claims ahead only without
	 * one): the model test does, since a claim ahead is a move the contract does not state (see
	 * docs/internals/state-machine.md).
	 * @default true
	 */
	readonly redisClaimAhead?: boolean;
	/**
	 * PostgreSQL: leave the SQL container's claim-ahead on (containers/sql/claim-ahead.ts). Off by default, as
	 * Redis's is in the model test.
	 * @default false
	 */
	readonly sqlClaimAhead?: boolean;
}

/** Start the servers the chosen set-ups need (all by default) and describe each set-up. */
export async function startSetups(
	names: readonly SetupName[] = SETUP_NAMES,
	options: SetupOptions = {},
): Promise<Setups> {
	const wanted = new Set(names);
	const stops: (() => Promise<void>)[] = [];
	const sqlite: SqlBackend = sqliteBackend();
	stops.push(() => sqlite.stop());
	// The better-sqlite3 driver takes the container's direct path (statements kept, rows read raw, claim-ahead).
	const better: SqlBackend = sqliteBackend('better-sqlite3');
	stops.push(() => better.stop());
	let pg: SqlBackend | undefined;
	let pgShared: Awaited<ReturnType<SqlBackend['freshDatabase']>> | undefined;
	let redis: RedisServer | undefined;
	try {
		if (wanted.has('postgres')) {
			pg = await postgresBackend();
			const started = pg;
			stops.push(() => started.stop());
			pgShared = await pg.freshDatabase();
		}
		if (wanted.has('redis') || wanted.has('redis(per-owner)')) {
			redis = await startRedis();
			const started = redis;
			stops.push(() => started.close());
		}
	} catch (error) {
		for (const stop of stops.reverse()) await stop().catch(() => undefined);
		throw error;
	}
	let n = 0;
	const sqliteContainer = async (): Promise<SqlContainer> =>
		new SqlContainer({ knex: await sqlite.freshDatabase(), ...CALLER_CLOCK });
	const all: ContainerSetup[] = [];
	const add = (name: SetupName, priority: boolean, make: () => Promise<TaskContainer>): void => {
		if (wanted.has(name)) all.push({ name, priority, make });
	};
	add('queue', false, async () => new QueueContainer({ keepFinished: Number.POSITIVE_INFINITY }));
	add('ordered-map', true, async () => new OrderedMapContainer({ keepFinished: Number.POSITIVE_INFINITY }));
	add('queue(sync)', false, async () => viaSyncFace(new QueueContainer({ keepFinished: Number.POSITIVE_INFINITY })));
	add('ordered-map(sync)', true, async () =>
		viaSyncFace(new OrderedMapContainer({ keepFinished: Number.POSITIVE_INFINITY })),
	);
	add('sqlite', true, sqliteContainer);
	add('sqlite(better-sqlite3)', true, async () => {
		const container = new SqlContainer({ knex: await better.freshDatabase(), ...CALLER_CLOCK });
		// Claim-ahead off, as for PostgreSQL (see there).
		if (options.sqlClaimAhead !== true) claimAheadOff.add(container);
		return container;
	});
	add('postgres', true, async () => {
		const container = new SqlContainer({
			knex: pgShared as Knex.Config,
			tablePrefix: `m${++n}_`,
			notify: false,
			...CALLER_CLOCK,
		});
		// Claim-ahead (a move the contract does not state, see docs/internals/state-machine.md) off, as for Redis.
		if (options.sqlClaimAhead !== true) claimAheadOff.add(container);
		return container;
	});
	const redisOptions = (): RedisContainerOptions => ({
		redis: (redis as RedisServer).url,
		name: `m${process.pid}-${++n}`,
		log: false,
		...CALLER_CLOCK,
		...(options.redisClaimAhead === false ? { globalConcurrency: 1_000_000 } : {}),
	});
	add('redis', true, async () => new RedisContainer(redisOptions()));
	// One instance per owner on the same queue, as one per scheduler process (per-owner.ts).
	add('redis(per-owner)', true, async () => {
		const shared = redisOptions();
		return perOwner(() => new RedisContainer(shared));
	});
	add(
		'combined(queue+sqlite)',
		false,
		async () =>
			new CombinedContainer(
				new QueueContainer({ keepFinished: Number.POSITIVE_INFINITY }),
				await sqliteContainer(),
			),
	);
	add(
		'combined(ordered-map+sqlite)',
		true,
		async () =>
			new CombinedContainer(
				new OrderedMapContainer({ keepFinished: Number.POSITIVE_INFINITY }),
				await sqliteContainer(),
			),
	);
	return {
		all,
		...(redis === undefined ? {} : { redisUrl: redis.url }),
		stop: async () => {
			for (const stop of stops.reverse()) await stop().catch(() => undefined);
		},
	};
}
