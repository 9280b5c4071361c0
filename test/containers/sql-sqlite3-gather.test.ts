/**
 * SQLite without claim-ahead (claim limits) makes every claim a statement of its own. A scheduler claimed for the
 * first slot a reply freed at once: that claim went out alone, its task then finished alone, and at concurrency 16 the
 * claims and the transitions ran in statements of 1 and 15 tasks, twice the statements of 16. The container now asks
 * the scheduler to gather its claims over one turn of the event loop (`TaskContainer.gatherClaims`), and a lone
 * transition waits for that turn too (containers/sql/transitions.ts). With claim-ahead (both drivers, no claim
 * limits) the next tasks come in the transitions' statement: fewer statements still, and no gathering.
 */
import { afterAll, describe, expect, it, vi } from 'vitest';
import { Scheduler } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { SqlContainer } from 'lightsched/containers/sql';
import { records } from '../contracts/container.contract.js';
import { sqliteBackend } from '../support/sql.js';

const sqlite3 = sqliteBackend('sqlite3');
const better = sqliteBackend('better-sqlite3');
afterAll(async () => {
	await sqlite3.stop();
	await better.stop();
});

const TASKS = 1_600;
const CONCURRENCY = 16;

/** Runs TASKS no-op tasks at CONCURRENCY; counts the claim and transition statements the container sent. */
async function drain(container: SqlContainer): Promise<{ claims: number; transitions: number; succeeded: number }> {
	await container.add(records(Array.from({ length: TASKS }, (_, i) => ({ id: `t${i}`, item: i }))));
	let claims = 0;
	let transitions = 0;
	(container.knex.client as NodeJS.EventEmitter).on('query', (q: { sql: string }) => {
		const text = q.sql.trimStart();
		if (/^UPDATE\b/i.test(text) && /SET status = 'running'/.test(text)) claims++;
		else if (/^UPDATE\b/i.test(text) && /WHERE id = \? AND status = \?/.test(text)) transitions++;
		else if (/^WITH\b/i.test(text) && /\bUPDATE\b/i.test(text)) transitions++;
	});
	const scheduler = new Scheduler({
		container,
		actuator: new FunctionActuator(async () => undefined),
		concurrency: CONCURRENCY,
		autoStart: false,
	});
	let done = 0;
	const finished = new Promise<void>((resolve) =>
		scheduler.on('task:succeeded', () => {
			if (++done === TASKS) resolve();
		}),
	);
	scheduler.resume();
	await finished;
	const { total } = await container.list({ status: 'succeeded', limit: 1 });
	await scheduler.close();
	return { claims, transitions, succeeded: total };
}

describe('SQLite claims and transitions gathered', () => {
	it('claims the slots of a burst of finishes together on sqlite3 with claim limits, and their tasks finish together', async () => {
		const container = new SqlContainer({
			knex: await sqlite3.freshDatabase(),
			notify: false,
			globalConcurrency: 1_000,
		});
		try {
			expect(container.gatherClaims).toBe(true);
			const { claims, transitions, succeeded } = await drain(container);
			// One claim and one batch of transitions per 16 tasks, give or take the first and last turns (before:
			// 200 claims and 200 transition statements).
			expect(claims).toBeLessThanOrEqual((TASKS / CONCURRENCY) * 1.2);
			expect(transitions).toBeLessThanOrEqual((TASKS / CONCURRENCY) * 1.2);
			expect(succeeded).toBe(TASKS);
		} finally {
			await container.close();
		}
	});

	it.each([
		['sqlite3', sqlite3],
		['better-sqlite3', better],
	])(
		'claims ahead in the transitions statement on %s, and does not ask for gathered claims',
		async (_name, backend) => {
			const container = new SqlContainer({ knex: await backend.freshDatabase(), notify: false });
			// A batch of transitions claims nothing ahead while a promotion of delayed tasks may be due, at least every
			// 100 ms of this process's clock (promotion.ts `STALE_MS`): the next claim goes to the database and
			// promotes first. So the claims grew with the drain's wall time, not with what claim-ahead does: at load 6
			// to 11 a drain took 2 to 5 s and made up to 94 claims (none handed back). `Date` stands still here (the
			// timers and the database run in real time), so the count below is claim-ahead's alone: 8 claims in each
			// of 20 drains at load 10 to 12 (1 to 6 s each).
			vi.useFakeTimers({ toFake: ['Date'] });
			try {
				expect(container.gatherClaims).toBe(false);
				const { claims, transitions, succeeded } = await drain(container);
				// The next tasks come with the finished ones' transitions: few claims of their own, and one statement
				// per 16 tasks at most (sqlite3 before: one claim and one batch of transitions per 16 tasks, 100
				// claims).
				expect(claims).toBeLessThanOrEqual((TASKS / CONCURRENCY) * 0.25);
				expect(transitions).toBeLessThanOrEqual((TASKS / CONCURRENCY) * 1.2);
				expect(succeeded).toBe(TASKS);
			} finally {
				vi.useRealTimers();
				await container.close();
			}
		},
	);
});
