/**
 * Workflows on Redis when a call's reply is lost: the server applied the call, the connection dropped before the
 * reply came back, and ioredis sent the call again once reconnected (a TCP proxy in the test swallows the replies,
 * then cuts the connection). The repeat must not be taken for someone else's write: `start` resolves with its run
 * (one run stored, not a `DuplicateRunError` for the run it created), and a command (`pause`, `stop`) resolves as
 * applied (not a `RunStateError` because the run already is in the state the command itself put it in).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { Scheduler } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { RedisContainer, RedisWorkflowStore } from 'lightsched/containers/redis';
import { Workflows, workflowActions, type RunRecord } from 'lightsched/workflows';
import { redisBehindProxy } from '../support/redis-behind-proxy.js';

const { server, proxy } = await redisBehindProxy();

interface Setup {
	readonly flows: Workflows;
	readonly store: RedisWorkflowStore;
	close(): Promise<void>;
}

/** A scheduler, its Redis container and a store on the container's connection, all through the proxy. */
function setup(name: string, hang: Promise<void>): Setup {
	const client = new Redis(proxy.url);
	const container = new RedisContainer({ redis: client, name, log: false });
	const store = new RedisWorkflowStore({ container });
	const actions = workflowActions({ quick: () => 'ok', hang: () => hang.then(() => 'done') });
	const scheduler = new Scheduler({ container, actuator: new FunctionActuator(actions), concurrency: 4 });
	const flows = new Workflows({ scheduler, actions, store, sweepMs: 100 });
	flows.on('error', () => undefined);
	flows.define({ name: 'quick', steps: [{ id: 'a', action: 'quick' }] });
	flows.define({
		name: 'long',
		steps: [
			{ id: 'a', action: 'hang' },
			{ id: 'b', action: 'quick', dependsOn: ['a'] },
		],
	});
	return {
		flows,
		store,
		close: async () => {
			await flows.close();
			await scheduler.close();
			client.disconnect();
		},
	};
}

/**
 * Run `call` with the replies lost from the first call sent that holds `marker` on; once the server applied it
 * (`applied`), cut the connection: ioredis sends the unanswered calls again on a new one.
 */
async function withLostReply<T>(marker: string, call: () => Promise<T>, applied: () => Promise<boolean>): Promise<T> {
	proxy.swallowRepliesFrom = marker;
	try {
		const pending = call();
		pending.catch(() => undefined);
		const until = Date.now() + 5000;
		while (!proxy.swallowReplies || !(await applied())) {
			if (Date.now() > until) throw new Error('the call never reached the server');
			await sleep(10);
		}
		proxy.swallowReplies = false;
		proxy.cut();
		return await pending;
	} finally {
		proxy.swallowRepliesFrom = null;
		proxy.swallowReplies = false;
	}
}

describe('Workflows on Redis: a call whose reply was lost and that ioredis sent again', () => {
	it('start resolves with the run it created: one run stored, and it finishes', { timeout: 30_000 }, async () => {
		let release = (): void => undefined;
		const s = setup(`lost-start-${process.pid}`, new Promise((resolve) => (release = () => resolve())));
		const direct = new Redis(server.url);
		try {
			await s.flows.wait((await s.flows.start('quick')).id); // the definition is stored, the connection warm
			const before = (await s.store.list({ definition: 'quick' })).runs.length;
			const count = async (): Promise<boolean> =>
				(await direct.keys(`${s.store.keyPrefix}wf:r:*`)).length > before;
			const run = await withLostReply('k-lost', () => s.flows.start('quick', { key: 'k-lost' }), count);
			expect(run.key).toBe('k-lost');
			const stored = (await s.store.list({ definition: 'quick', key: 'k-lost' })).runs;
			expect(stored.map((r: RunRecord) => r.id)).toEqual([run.id]);
			expect((await s.flows.wait(run.id)).status).toBe('succeeded');
		} finally {
			release();
			direct.disconnect();
			await s.close();
		}
	});

	it(
		'pause resolves as applied, not refused for the state it put the run in itself',
		{ timeout: 30_000 },
		async () => {
			let release = (): void => undefined;
			const s = setup(`lost-pause-${process.pid}`, new Promise((resolve) => (release = () => resolve())));
			const direct = new Redis(server.url);
			try {
				const run = await s.flows.start('long');
				const status = async (): Promise<string | null> =>
					direct.hget(`${s.store.keyPrefix}wf:r:${run.id}`, 'status');
				const paused = await withLostReply(
					'paused',
					() => s.flows.pause(run.id),
					async () => (await status()) === 'paused',
				);
				expect(paused.status).toBe('paused');
				await s.flows.resume(run.id);
				release();
				expect((await s.flows.wait(run.id)).status).toBe('succeeded');
			} finally {
				release();
				direct.disconnect();
				await s.close();
			}
		},
	);

	it('stop resolves as applied and the run ends stopped', { timeout: 30_000 }, async () => {
		let release = (): void => undefined;
		const s = setup(`lost-stop-${process.pid}`, new Promise((resolve) => (release = () => resolve())));
		const direct = new Redis(server.url);
		try {
			const run = await s.flows.start('long');
			const status = async (): Promise<string | null> =>
				direct.hget(`${s.store.keyPrefix}wf:r:${run.id}`, 'status');
			const stopped = await withLostReply(
				'stopped',
				() => s.flows.stop(run.id),
				async () => (await status()) === 'stopped',
			);
			expect(stopped.status).toBe('stopped');
			expect((await s.flows.wait(run.id)).status).toBe('stopped');
		} finally {
			release();
			direct.disconnect();
			await s.close();
		}
	});
});
