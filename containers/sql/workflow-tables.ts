/**
 * The tables of `SqlWorkflowStore` (workflow-store.ts): `<prefix>wf_runs`, a run a row, and `<prefix>wf_definitions`,
 * made on first use, and the columns added since a run table was first made (`create_token`), added to an older one.
 * Safe when several processes make them at once.
 */
import type { Knex } from 'knex';
import { addColumnIfMissing } from './add-column.js';
import type { SqlDialect } from './dialect.js';

/** The store's table names (its prefix applied). */
export interface WorkflowTables {
	readonly runs: string;
	readonly definitions: string;
}

/** Create the tables that are missing and add the columns a run table made before them lacks. */
export async function migrateWorkflowTables(knex: Knex, dialect: SqlDialect, tables: WorkflowTables): Promise<void> {
	// PostgreSQL: one process at a time (a transaction-scoped advisory lock, as the container's migrations take),
	// each table whole or not at all (its DDL in the transaction). Two CREATE TABLEs of one name at once collide in
	// the catalog (`pg_type_typname_nsp_index`), not with an "already exists" the check below could tolerate.
	if (dialect === 'pg') {
		await knex.transaction(async (trx) => {
			await trx.raw('SELECT pg_advisory_xact_lock(hashtext(?))', [`lightsched:${tables.runs}`]);
			await createTables(tables, () => trx.schema);
			await addColumns(trx, dialect, tables);
		});
		return;
	}
	await createTables(tables, () => knex.schema);
	await knex.transaction((trx) => addColumns(trx, dialect, tables));
}

/** The columns added since the table was first made, on a table made before them. */
async function addColumns(trx: Knex.Transaction, dialect: SqlDialect, { runs }: WorkflowTables): Promise<void> {
	await addColumnIfMissing(trx, dialect, runs, runs, 'create_token', 'VARCHAR(64)');
}

/** Create the tables that are missing; `schema()` a fresh schema builder (it runs every statement it was given). */
async function createTables({ runs, definitions }: WorkflowTables, schema: () => Knex.SchemaBuilder): Promise<void> {
	const tolerate = async (make: () => Promise<unknown>): Promise<void> => {
		try {
			await make();
		} catch (error) {
			// Another process made it between our check and our create.
			if (!/already exists/i.test(String((error as Error).message))) throw error;
		}
	};
	if (!(await schema().hasTable(runs))) {
		await tolerate(() =>
			schema().createTable(runs, (t) => {
				t.string('id', 64).primary();
				t.string('definition', 100).notNullable();
				t.integer('version').notNullable();
				t.string('run_key', 512).nullable();
				t.string('active_key', 512).nullable().unique();
				t.string('create_token', 64).nullable();
				t.string('status', 16).notNullable();
				t.boolean('open').notNullable();
				t.bigInteger('created_at').notNullable();
				t.bigInteger('updated_at').notNullable();
				t.integer('rev').notNullable();
				t.text('body').notNullable();
				t.index(['definition', 'created_at']);
				t.index(['run_key', 'created_at']);
				t.index(['status', 'created_at']);
				t.index(['open', 'created_at']);
			}),
		);
	}
	if (!(await schema().hasTable(definitions))) {
		await tolerate(() =>
			schema().createTable(definitions, (t) => {
				t.string('name', 100).notNullable();
				t.integer('version').notNullable();
				t.text('body').notNullable();
				t.primary(['name', 'version']);
			}),
		);
	}
}
