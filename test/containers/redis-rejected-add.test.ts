/**
 * An add rejected while it was on its way (docs/containers/redis.md "When Redis cannot be reached"): the connection
 * drops with the add sent but unanswered and does not come back within `connectTimeoutMs`, so the add rejects with
 * "the server may have applied it", as a `PartialAddError` whose `unsureIds` are the add's ids (generated ones too).
 * ioredis still sends it again once the connection is back, so it is stored after its rejection; a retry with the
 * same id is refused with `DuplicateTaskError` and the task is stored once.
 *
 * The connection runs through a proxy that can swallow what the client sends (the call "on its way") and refuse
 * connections (the server out of reach) while redis-server itself keeps running.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { ContainerError, DuplicateTaskError, PartialAddError, Scheduler } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { RedisContainer } from 'lightsched/containers/redis';
import { records } from '../contracts/container.contract.js';
import { redisBehindProxy } from '../support/redis-behind-proxy.js';

const { server, proxy } = await redisBehindProxy();

describe('RedisContainer: an add rejected on its way', () => {
	it('is stored once the connection is back, and its retry with the same id is refused, not stored twice', async () => {
		const name = `rejected-${process.pid}`;
		const container = new RedisContainer({ redis: proxy.url, name, log: false, connectTimeoutMs: 500 });
		const direct = new RedisContainer({ redis: server.url, name, log: false });
		try {
			expect((await container.counts()).waiting).toBe(0);
			// The add leaves the client but never reaches the server; then the connection drops and stays down.
			proxy.swallow = true;
			const adding = container.add(records([{ id: 'r1', item: 1 }]));
			const outcome = adding.then(
				() => null,
				(error: unknown) => error,
			);
			await sleep(100);
			proxy.refuse = true;
			proxy.cut();
			const error = await outcome;
			expect(error).toBeInstanceOf(ContainerError);
			expect(error).toBeInstanceOf(PartialAddError);
			expect(error).toMatchObject({ storedIds: [], unsureIds: ['r1'] });
			expect(String((error as Error).message)).toMatch(
				/add of 1 task unanswered: may be stored.*the server may have applied it/,
			);
			expect(await direct.get('r1')).toBeNull();

			// The server is in reach again: ioredis sends the add that was on its way, and it is stored.
			proxy.swallow = false;
			proxy.refuse = false;
			const deadline = Date.now() + 15_000;
			while ((await direct.get('r1')) === null) {
				if (Date.now() > deadline) throw new Error('the rejected add was never stored');
				await sleep(50);
			}

			// The caller's retry, with the same id: refused, nothing stored twice.
			await expect(container.add(records([{ id: 'r1', item: 1 }]))).rejects.toBeInstanceOf(DuplicateTaskError);
			expect(await direct.counts()).toMatchObject({ waiting: 1 });
		} finally {
			await container.close();
			await direct.close();
		}
	});

	it('names the ids the scheduler generated, so the caller can look the task up or retry it without a twin', async () => {
		const name = `rejected-generated-${process.pid}`;
		const container = new RedisContainer({ redis: proxy.url, name, log: false, connectTimeoutMs: 500 });
		const direct = new RedisContainer({ redis: server.url, name, log: false });
		const scheduler = new Scheduler({ container, actuator: new FunctionActuator(() => null), autoStart: false });
		try {
			expect((await scheduler.counts()).waiting).toBe(0); // connected before the proxy swallows
			proxy.swallow = true;
			const outcome = scheduler.add({ item: 'generated' }).then(
				() => null,
				(error: unknown) => error,
			);
			await sleep(100);
			proxy.refuse = true;
			proxy.cut();
			const error = await outcome;
			expect(error).toBeInstanceOf(PartialAddError);
			const { storedIds, unsureIds } = error as PartialAddError;
			expect(storedIds).toEqual([]);
			expect(unsureIds).toHaveLength(1);
			const id = unsureIds[0] as string;
			expect(await direct.get(id)).toBeNull();

			proxy.swallow = false;
			proxy.refuse = false;
			const deadline = Date.now() + 15_000;
			while ((await direct.get(id)) === null) {
				if (Date.now() > deadline) throw new Error('the rejected add was never stored');
				await sleep(50);
			}
			expect((await direct.get(id))?.item).toBe('generated');
			// The retry the error makes possible: the same id, refused, nothing stored twice.
			await expect(scheduler.add({ id, item: 'generated' })).rejects.toBeInstanceOf(DuplicateTaskError);
			expect(await direct.counts()).toMatchObject({ waiting: 1 });
		} finally {
			await scheduler.close();
			await direct.close();
		}
	});
});
