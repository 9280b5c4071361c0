/**
 * FunctionActuator through the actuator contract: with a closure (stopped through its signal) and in worker-thread
 * mode (a thread stuck in a busy loop, terminated for real).
 */
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { FunctionActuator } from 'lightsched/actuators/function';
import { actuatorContract } from '../contracts/actuator.contract.js';
import { sleep } from '../support/scheduler.js';

type Item =
	| { readonly kind: 'sum'; readonly a: number; readonly b: number }
	| { readonly kind: 'fail'; readonly message: string }
	| { readonly kind: 'long'; readonly token: string }
	| { readonly kind: 'spin'; readonly heartbeat: SharedArrayBuffer }
	| { readonly kind: 'progress'; readonly steps: number };

type Output = { readonly sum: number };

actuatorContract<Item, Output>(
	'FunctionActuator (closure)',
	() => {
		/** What each long call is doing, by token: it runs until its signal aborts, then it ends. */
		const state = new Map<string, 'running' | 'ended'>();
		let tokens = 0;
		return {
			actuator: () =>
				new FunctionActuator<Item, Output>(async (item, { signal, progress }) => {
					switch (item.kind) {
						case 'sum':
							return { sum: item.a + item.b };
						case 'fail':
							throw Object.assign(new Error(item.message), { code: 'E_CONTRACT' });
						case 'progress':
							for (let step = 1; step <= item.steps; step++) {
								progress({ step, of: item.steps });
								await sleep(5);
							}
							return { sum: 0 };
						case 'long':
							state.set(item.token, 'running');
							return new Promise<Output>((_resolve, reject) => {
								const timer = setTimeout(
									() => reject(new Error('the long work was never stopped')),
									600_000,
								);
								signal.addEventListener('abort', () => {
									clearTimeout(timer);
									state.set(item.token, 'ended');
									reject(signal.reason as Error);
								});
							});
						default:
							throw new TypeError(`unexpected item ${JSON.stringify(item)}`);
					}
				}),
			succeeds: { item: { kind: 'sum', a: 20, b: 22 }, output: { sum: 42 } },
			fails: { item: { kind: 'fail', message: 'the closure gave up' }, message: 'the closure gave up' },
			long: () => {
				const token = `long-${++tokens}`;
				return {
					item: { kind: 'long', token },
					running: async () => {
						while (state.get(token) !== 'running') await sleep(5);
					},
					// A closure cannot be ended from outside: the contract is that its signal aborts, which ends this one.
					workGone: () => state.get(token) === 'ended',
				};
			},
			timeoutMs: 300,
			progress: { item: { kind: 'progress', steps: 3 } },
		};
	},
	{ progress: true, init: false, stopWhileStarting: true },
);

const module = fileURLToPath(new URL('../fixtures/contract-functions.mjs', import.meta.url));

actuatorContract<Item, Output>(
	'FunctionActuator (worker threads)',
	() => {
		const actuators: FunctionActuator<Item, Output>[] = [];
		return {
			actuator: () => {
				const actuator = new FunctionActuator<Item, Output>({ module });
				actuators.push(actuator);
				return actuator;
			},
			succeeds: { item: { kind: 'sum', a: 20, b: 22 }, output: { sum: 42 } },
			fails: { item: { kind: 'fail', message: 'the thread gave up' }, message: 'the thread gave up' },
			long: () => {
				const heartbeat = new SharedArrayBuffer(4);
				const counter = new Int32Array(heartbeat);
				return {
					item: { kind: 'spin', heartbeat },
					running: async () => {
						while (Atomics.load(counter, 0) === 0) await sleep(5);
						expect(actuators.at(-1)?.busyWorkers).toBeGreaterThanOrEqual(1);
					},
					workGone: async () => {
						// The thread is terminated: its heartbeat no longer moves (a spinning one adds millions in 100 ms).
						const before = Atomics.load(counter, 0);
						await sleep(100);
						return Atomics.load(counter, 0) === before;
					},
				};
			},
			timeoutMs: 500,
			progress: { item: { kind: 'progress', steps: 3 } },
		};
	},
	{ progress: true, init: false, stopWhileStarting: true },
);
