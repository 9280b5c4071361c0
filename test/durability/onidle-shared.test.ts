import { afterAll, beforeAll, expect, it } from 'vitest';
import { Scheduler } from 'lightsched';
import { SqlContainer } from 'lightsched/containers/sql';
import { FunctionActuator } from 'lightsched/actuators/function';
import { startPostgres, type PostgresServer } from '../support/postgres.js';

let pg: PostgresServer;
beforeAll(async () => {
	pg = await startPostgres();
});
afterAll(async () => {
	await pg?.stop();
});

// Regression: onIdle() never resolved here, because nothing signals a task finishing in another scheduler.
it('onIdle of an idle scheduler resolves once another scheduler sharing the container finishes', async () => {
	const open = () => new SqlContainer({ knex: { client: 'pg', connection: pg.url } });
	const busy = new Scheduler({
		container: open(),
		actuator: new FunctionActuator(() => new Promise((r) => setTimeout(r, 1500))),
		id: 'busy',
	});
	await busy.add({ id: 'slow', item: 1 });
	await new Promise((r) => setTimeout(r, 300));
	const idle = new Scheduler({
		container: open(),
		actuator: new FunctionActuator(() => 1),
		id: 'idle',
		pollIntervalMs: 100,
	});
	await new Promise((r) => setTimeout(r, 300));
	expect((await idle.get('slow'))?.status).toBe('running');
	const started = Date.now();
	const resolved = await Promise.race([
		idle.onIdle().then(() => true),
		new Promise((r) => setTimeout(() => r(false), 6000)),
	]);
	expect((await idle.get('slow'))?.status).toBe('succeeded');
	expect(Date.now() - started).toBeLessThan(6000);
	await busy.close();
	await idle.close();
	expect(resolved).toBe(true);
}, 30_000);
