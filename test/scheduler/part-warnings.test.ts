/** Side channels reach the scheduler: an attached container's or actuator's warnings become its `warning` event. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { Scheduler, type PartReporter, type PartWarningEvent, type TaskActuator } from 'lightsched';
import { QueueContainer } from 'lightsched/containers/queue';
import { FunctionActuator } from 'lightsched/actuators/function';
import { RedisContainer, type RedisContainerWarning } from 'lightsched/containers/redis';
import { startRedis, type RedisServer } from '../support/redis.js';

describe('part warnings', () => {
	it('attaches the actuator and container at construction and detaches them on close', async () => {
		const reporters: PartReporter[] = [];
		let detached = 0;
		const actuator: TaskActuator = {
			start: () => undefined,
			stop: () => undefined,
			attach: (reporter) => {
				reporters.push(reporter);
				return () => detached++;
			},
		};
		const container = new QueueContainer();
		const scheduler = new Scheduler({ container, actuator });
		const warnings: PartWarningEvent[] = [];
		scheduler.on('warning', (event) => warnings.push(event));
		expect(reporters).toHaveLength(1);
		const error = new Error('the daemon hiccuped');
		reporters[0]!.warning(error);
		expect(warnings).toEqual([{ part: 'actuator', error }]);
		await scheduler.close();
		expect(detached).toBe(1);
	});

	describe('RedisContainer', () => {
		let server: RedisServer;
		let admin: Redis;
		beforeAll(async () => {
			server = await startRedis();
			admin = new Redis(server.url);
		});
		afterAll(async () => {
			admin?.disconnect();
			await server?.close();
		});

		it('sends the maxmemory-policy warning to the scheduler instead of console.warn; its own event still fires', async () => {
			await admin.config('SET', 'maxmemory-policy', 'allkeys-lru');
			const original = console.warn;
			const consoleLines: unknown[] = [];
			console.warn = (...args: unknown[]) => consoleLines.push(args);
			try {
				const container = new RedisContainer({ redis: server.url, name: `pw-${Date.now()}` });
				const own: RedisContainerWarning[] = [];
				container.on('warning', (warning) => own.push(warning));
				const scheduler = new Scheduler({ container, actuator: new FunctionActuator(() => 1) });
				const warnings: PartWarningEvent[] = [];
				scheduler.on('warning', (event) => warnings.push(event));
				await container.ready();
				expect(own).toEqual([expect.objectContaining({ code: 'maxmemory-policy' })]);
				expect(warnings).toHaveLength(1);
				expect(warnings[0]!.part).toBe('container');
				expect(warnings[0]!.error.message).toMatch(/allkeys-lru.*evict/);
				expect(consoleLines).toEqual([]);
				await scheduler.close();
			} finally {
				console.warn = original;
				await admin.config('SET', 'maxmemory-policy', 'noeviction');
			}
		});
	});
});
