/**
 * Which way a `SqlContainer.add` goes: a small add is written together with the others on their way (add-queue.ts);
 * a large one (over `CHUNK` tasks) alone in its own transaction, or on SQLite in steps, each its own transaction
 * (stepped-add.ts). A failure comes out worded for the add (failures.ts `addFailure`).
 */
import type { Knex } from 'knex';
import type { TaskRecord } from 'lightsched/kit';
import type { ContainerCalls } from './container-calls.js';
import type { ContainerParts } from './container-parts.js';
import { addFailure } from './failures.js';
import type { SqlDialect, SqlTables } from './schema.js';
import { CHUNK } from './statements.js';
import { addInSteps } from './stepped-add.js';
import { checkAdd } from './task-adds.js';

/** What an add needs of its container. */
export interface AddRoutesHost {
	readonly knex: Knex;
	readonly dialect: SqlDialect;
	readonly tables: SqlTables;
	readonly database: string;
	readonly parts: ContainerParts;
	readonly calls: ContainerCalls;
	closed(): boolean;
}

/** Store `tasks` (not empty) as `waiting`: checked first, then by the way their number calls for. */
export async function routeAdd(host: AddRoutesHost, tasks: readonly TaskRecord[]): Promise<void> {
	const { dialect, parts, calls } = host;
	const items = checkAdd(tasks);
	const where = `SqlContainer (${host.database})`;
	// A large add alone in its own transaction; smaller ones are written together while one is on its way.
	await calls
		.run('add', async () => {
			if (tasks.length > CHUNK && dialect === 'sqlite')
				return addInSteps(
					{
						knex: host.knex,
						tasks: host.tables.tasks,
						where,
						write: (part, partItems) =>
							calls.call('add', () => parts.inserts.insert(part, partItems, null)),
						closed: () => host.closed(),
					},
					tasks,
					items,
				);
			if (tasks.length > CHUNK) return parts.inserts.insert(tasks, items, null);
			parts.claims.adding(tasks);
			return parts.adds.submit(tasks, items);
		})
		.catch((error: unknown) => {
			throw addFailure(
				error,
				dialect,
				where,
				tasks.map((task) => task.id),
			);
		});
	parts.analyze?.count(tasks.length);
}
