/**
 * An add on PostgreSQL whose reply is lost: the server stores it, then the connection is cut before the answer
 * reaches the client. The add rejects with `PartialAddError` naming every id of the add as unsure (the ones the
 * scheduler generated too), so the caller can look them up or add them again by id: a stored id is refused with
 * `DuplicateTaskError`, nothing is stored twice. An add refused before it was sent stays a plain `ContainerError`.
 *
 * The connections run through a proxy (test/support/tcp-proxy.ts) that can drop the server's replies and cut.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContainerError, DuplicateTaskError, PartialAddError, Scheduler } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { SqlContainer } from 'lightsched/containers/sql';
import { records } from '../contracts/container.contract.js';
import { freePort, startPostgres, type PostgresServer } from '../support/postgres.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';

let pg: PostgresServer;
let proxy: TcpProxy;
beforeAll(async () => {
	pg = await startPostgres();
	proxy = await startTcpProxy(pg.port);
}, 60_000);
afterAll(async () => {
	await proxy?.close();
	await pg?.stop();
});

const POOL = 3;

/**
 * The container's tables checked (its first call does that, in a transaction of its own) and every connection of its
 * pool made, so that when the replies are dropped an add is sent at once, as a single statement.
 */
async function warm(container: SqlContainer): Promise<void> {
	expect((await container.counts()).waiting).toBe(0);
	await Promise.all(Array.from({ length: POOL }, () => container.knex.raw('SELECT pg_sleep(0.05)')));
}

/** A container through the proxy and one straight to the server, on a fresh database. */
async function containers(name: string): Promise<{ viaProxy: SqlContainer; direct: SqlContainer }> {
	const db = await pg.createDatabase(name);
	const viaProxy = new SqlContainer({
		// Connections made before the replies are dropped (`warm`), so the add is sent on one of them (a cut while a
		// connection is being made looks the same to the driver and is reported the same way: see mayHaveApplied).
		knex: { client: 'pg', connection: { ...db, port: proxy.port }, pool: { min: 0, max: POOL } },
		connectTimeoutMs: 1_000,
	});
	const direct = new SqlContainer({ knex: { client: 'pg', connection: db } });
	await direct.counts(); // the tables exist
	return { viaProxy, direct };
}

/** The add's rejection once its reply was dropped and the connection cut under it. */
async function addWithLostReply(add: () => Promise<unknown>): Promise<unknown> {
	proxy.swallowReplies = true;
	const outcome = add().then(
		() => null,
		(error: unknown) => error,
	);
	await sleep(300); // the server has stored it and answered into the void
	proxy.cut();
	const error = await outcome;
	proxy.swallowReplies = false;
	return error;
}

describe('SqlContainer on PostgreSQL: an add whose reply is lost', () => {
	it('rejects with PartialAddError naming its ids; the task is stored once and its retry by id is refused', async () => {
		const { viaProxy, direct } = await containers('lost_reply');
		try {
			await warm(viaProxy);
			const error = await addWithLostReply(() =>
				viaProxy.add(
					records([
						{ id: 'u1', item: 1 },
						{ id: 'u2', item: 2 },
					]),
				),
			);
			expect(error).toBeInstanceOf(ContainerError);
			expect(error).toBeInstanceOf(PartialAddError);
			expect(error).toMatchObject({ storedIds: [], unsureIds: ['u1', 'u2'] });
			expect((error as Error).message).toMatch(/add of 2 tasks unanswered: may be stored .*connection was cut/);
			// Here it was stored (the server committed before answering): both, as one statement.
			expect((await direct.get('u1'))?.item).toBe(1);
			expect((await direct.get('u2'))?.item).toBe(2);
			await expect(viaProxy.add(records([{ id: 'u1', item: 1 }]))).rejects.toBeInstanceOf(DuplicateTaskError);
			expect(await direct.counts()).toMatchObject({ waiting: 2 });
		} finally {
			await viaProxy.close();
			await direct.close();
		}
	}, 60_000);

	it('names the ids the scheduler generated, so the caller can retry without a twin', async () => {
		const { viaProxy, direct } = await containers('lost_reply_generated');
		const scheduler = new Scheduler({
			container: viaProxy,
			actuator: new FunctionActuator(() => null),
			autoStart: false,
		});
		try {
			await warm(viaProxy);
			const error = await addWithLostReply(() => scheduler.add({ item: 'generated' }));
			expect(error).toBeInstanceOf(PartialAddError);
			const { unsureIds } = error as PartialAddError;
			expect(unsureIds).toHaveLength(1);
			const id = unsureIds[0] as string;
			expect((await direct.get(id))?.item).toBe('generated');
			await expect(scheduler.add({ id, item: 'generated' })).rejects.toBeInstanceOf(DuplicateTaskError);
			expect(await direct.counts()).toMatchObject({ waiting: 1 });
		} finally {
			await scheduler.close();
			await direct.close();
		}
	}, 60_000);

	it('an add refused before it was sent (the server out of reach) stays a ContainerError, nothing stored', async () => {
		const nowhere = new SqlContainer({
			knex: { client: 'pg', connection: { ...pg.connection, port: await freePort() } },
			connectTimeoutMs: 1_000,
		});
		try {
			const error = await nowhere.add(records([{ id: 'n1', item: 1 }])).then(
				() => null,
				(e: unknown) => e,
			);
			expect(error).toBeInstanceOf(ContainerError);
			expect(error).not.toBeInstanceOf(PartialAddError);
			expect((error as Error).message).toMatch(/connection refused/);
		} finally {
			await nowhere.close();
		}
	}, 60_000);
});
