/**
 * `--container`: which container a command works on, as one string. `sqlite:<path>` (a SQLite file),
 * `postgres://…` / `postgresql://…` (PostgreSQL), `redis://…` / `rediss://…` (Redis). `--name` picks the container
 * within it: the Redis container's `name`, the SQL container's `tablePrefix`. The container's module (and its
 * driver: sqlite3, pg, ioredis, all optional peers) is loaded only for the kind asked for.
 */
import type { TaskContainer } from 'lightsched';
import { CliError, EXIT } from './cli-error.js';

/** A parsed `--container`. */
export type ContainerSpec =
	| { readonly kind: 'sqlite'; readonly filename: string }
	| { readonly kind: 'postgres'; readonly url: string }
	| { readonly kind: 'redis'; readonly url: string };

const EXPECTED = 'sqlite:<path>, postgres://user@host/db or redis://host:port';

/** Parse `--container`; a value of another form is a usage error naming the forms it takes. */
export function parseContainerSpec(value: string | undefined): ContainerSpec {
	if (value === undefined || value === '')
		throw new CliError(`Expected \`--container\` (or LIGHTSCHED_CONTAINER): ${EXPECTED}`, EXIT.usage);
	if (value.startsWith('sqlite:')) {
		const filename = value.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
		if (filename === '')
			throw new CliError(
				`Expected a file after \`sqlite:\` in \`--container\`, got ${JSON.stringify(value)}`,
				EXIT.usage,
			);
		return { kind: 'sqlite', filename };
	}
	if (/^postgres(ql)?:\/\//.test(value)) return { kind: 'postgres', url: value };
	if (/^rediss?:\/\//.test(value)) return { kind: 'redis', url: value };
	throw new CliError(`Expected \`--container\` to be ${EXPECTED}, got ${JSON.stringify(value)}`, EXIT.usage);
}

/** Open the container `spec` names; `name` is the Redis container's name or the SQL table prefix. */
export async function openContainer(spec: ContainerSpec, name: string | undefined): Promise<TaskContainer> {
	switch (spec.kind) {
		case 'sqlite': {
			const { SqlContainer } = await import('lightsched/containers/sql');
			return new SqlContainer({
				knex: { client: 'sqlite3', connection: { filename: spec.filename }, useNullAsDefault: true },
				...(name === undefined ? {} : { tablePrefix: name }),
			});
		}
		case 'postgres': {
			const { SqlContainer } = await import('lightsched/containers/sql');
			return new SqlContainer({
				knex: { client: 'pg', connection: spec.url },
				...(name === undefined ? {} : { tablePrefix: name }),
			});
		}
		case 'redis': {
			const { RedisContainer } = await import('lightsched/containers/redis');
			return new RedisContainer({ redis: spec.url, name: name ?? 'default', log: false });
		}
	}
}
