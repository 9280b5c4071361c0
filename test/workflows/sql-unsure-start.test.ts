/**
 * `Workflows.start` on PostgreSQL when the reply of the run's create is lost: the server stores the run, then the
 * connection is cut before the answer reaches the client (a TCP proxy drops the replies from the call holding a
 * marker on, test/support/tcp-proxy.ts). The store sends the same insert again with the same token and knows its
 * run: `start` resolves with it, one run stored. When the server is out of reach for that read-back, `start` rejects
 * with `RunOutcomeUnknownError` (`ERR_RUN_OUTCOME_UNKNOWN`); a start of the same run tried again from the same
 * `Workflows` resolves with the run the first one stored, while another caller's start of that id is refused.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContainerError, Scheduler } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { SqlContainer, SqlWorkflowStore } from 'lightsched/containers/sql';
import { DuplicateRunError, RunOutcomeUnknownError, Workflows, workflowActions } from 'lightsched/workflows';
import { startPostgres, type PostgresServer } from '../support/postgres.js';
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

interface Setup {
	readonly flows: Workflows;
	/** Another process's `Workflows` on the same database (its own connections, straight to the server). */
	readonly other: Workflows;
	/** A store straight to the server, to look at what is stored. */
	readonly direct: SqlWorkflowStore;
	close(): Promise<void>;
}

const QUICK = { name: 'quick', steps: [{ id: 'a', action: 'quick' }] };

/** A process through the proxy (container, store, scheduler, Workflows), one straight to the server, on a fresh database. */
async function setup(name: string): Promise<Setup> {
	const db = await pg.createDatabase(name);
	const open = (port: number): { flows: Workflows; close(): Promise<void> } => {
		const actions = workflowActions({ quick: () => 'ok' });
		const container = new SqlContainer({
			knex: {
				client: 'pg',
				connection: { ...db, port },
				pool: { min: 0, max: 3 },
				acquireConnectionTimeout: 5_000,
			},
			connectTimeoutMs: 1_000,
		});
		const store = new SqlWorkflowStore({ container });
		const scheduler = new Scheduler({ container, actuator: new FunctionActuator(actions), pollIntervalMs: 100 });
		const flows = new Workflows({ scheduler, actions, store, sweepMs: 200 });
		flows.on('error', () => undefined);
		scheduler.on('error', () => undefined);
		flows.define(QUICK);
		return {
			flows,
			close: async () => {
				await flows.close();
				await scheduler.close();
				await container.close();
			},
		};
	};
	const mine = open(proxy.port);
	const theirs = open(pg.port);
	const direct = new SqlWorkflowStore({ knex: { client: 'pg', connection: db } });
	// The tables made, the definition stored, the connections warm.
	await mine.flows.wait((await mine.flows.start('quick')).id, { timeoutMs: 10_000 });
	return {
		flows: mine.flows,
		other: theirs.flows,
		direct,
		close: async () => {
			await mine.close();
			await theirs.close();
			await direct.close();
		},
	};
}

/**
 * Run `start` with the replies lost from the first call sent that holds `marker` on; once the run is stored
 * (`direct` sees it), cut every connection, with new ones refused while `refuse` holds. Resolves with the outcome.
 */
async function startWithLostReply(
	s: Setup,
	marker: string,
	start: () => Promise<unknown>,
	stored: () => Promise<boolean>,
	refuse: boolean,
): Promise<unknown> {
	proxy.swallowRepliesFrom = marker;
	try {
		const outcome = start().then(
			(run) => ({ run }),
			(error: unknown) => ({ error }),
		);
		const until = Date.now() + 10_000;
		while (!proxy.swallowReplies || !(await stored())) {
			if (Date.now() > until) throw new Error('the create never reached the server');
			await sleep(10);
		}
		proxy.refuse = refuse;
		proxy.swallowReplies = false;
		proxy.cut();
		return await outcome;
	} finally {
		proxy.swallowRepliesFrom = null;
		proxy.swallowReplies = false;
	}
}

describe('Workflows.start on PostgreSQL when the reply of the run create is lost', () => {
	it('resolves with the run it stored: one run with its key, and it finishes', { timeout: 60_000 }, async () => {
		const s = await setup('unsure_start_lost');
		try {
			const keyed = async (): Promise<string[]> =>
				(await s.direct.list({ key: 'k-lost' })).runs.map((run) => run.id);
			const outcome = (await startWithLostReply(
				s,
				'k-lost',
				() => s.flows.start('quick', { key: 'k-lost' }),
				async () => (await keyed()).length > 0,
				false,
			)) as { run?: { id: string; key: string | null }; error?: unknown };
			expect(outcome.error).toBeUndefined();
			expect(outcome.run?.key).toBe('k-lost');
			expect(await keyed()).toEqual([outcome.run?.id]);
			expect((await s.flows.wait(outcome.run?.id as string, { timeoutMs: 10_000 })).status).toBe('succeeded');
		} finally {
			await s.close();
		}
	});

	it(
		'the server out of reach for the read-back: RunOutcomeUnknownError at once; tried again by the same Workflows it resolves with that run, another caller is refused',
		{ timeout: 60_000 },
		async () => {
			const s = await setup('unsure_start_down');
			try {
				const id = 'unsure-run-1';
				const began = Date.now();
				const outcome = (await startWithLostReply(
					s,
					id,
					() => s.flows.start('quick', { id, vars: {} }),
					async () => (await s.direct.get(id)) !== null,
					true,
				)) as { error?: unknown };
				const error = outcome.error;
				expect(error).toBeInstanceOf(RunOutcomeUnknownError);
				expect(error).toMatchObject({ code: 'ERR_RUN_OUTCOME_UNKNOWN', runId: id });
				expect((error as Error).message).toMatch(/may be stored: start it again with the same id/);
				expect((error as Error).cause).toBeInstanceOf(ContainerError);
				// Within the connect timeout (1 s), not the pool's acquire timeout (5 s).
				expect(Date.now() - began).toBeLessThan(5_000);
				proxy.refuse = false;
				// It was stored (the server committed before answering): another caller's start of the id is refused.
				await expect(s.other.start('quick', { id })).rejects.toBeInstanceOf(DuplicateRunError);
				// The same start tried again here knows its run. The same id with another key is not the same start.
				await expect(s.flows.start('quick', { id, key: 'other' })).rejects.toBeInstanceOf(DuplicateRunError);
				const again = await s.flows.start('quick', { id, vars: {} });
				expect(again.id).toBe(id);
				expect((await s.direct.list({ definition: 'quick' })).runs.filter((run) => run.id === id)).toHaveLength(
					1,
				);
				expect((await s.flows.wait(id, { timeoutMs: 10_000 })).status).toBe('succeeded');
				// Once known, a third start of it is refused like any other.
				await expect(s.flows.start('quick', { id, vars: {} })).rejects.toBeInstanceOf(DuplicateRunError);
			} finally {
				proxy.refuse = false;
				await s.close();
			}
		},
	);
});
