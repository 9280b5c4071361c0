/**
 * `onceRetrying` (containers/sql/once-retrying.ts), the way the SQL container, workflow store and persistencer migrate:
 * callers at once share one call, a success is kept, a failure goes to the callers that shared it and the next caller
 * tries again; `settled` waits for the call on its way without its failure.
 */
import { describe, expect, it } from 'vitest';
import { onceRetrying } from '../../containers/sql/once-retrying.js';

/** A call whose outcomes the test decides, one a call, counting the calls. */
function scripted(): { fn: () => Promise<string>; calls: () => number; settle: (outcome: Error | string) => void } {
	const pending: ((outcome: Error | string) => void)[] = [];
	let calls = 0;
	return {
		fn: () => {
			calls++;
			return new Promise((resolve, reject) =>
				pending.push((outcome) => (outcome instanceof Error ? reject(outcome) : resolve(outcome))),
			);
		},
		calls: () => calls,
		settle: (outcome) => {
			const next = pending.shift();
			if (next === undefined) throw new Error('no call on its way');
			next(outcome);
		},
	};
}

describe('onceRetrying', () => {
	it('gives callers at once one shared call, and keeps its success for every later caller', async () => {
		const call = scripted();
		const once = onceRetrying(call.fn);
		const together = Array.from({ length: 5 }, () => once.run());
		expect(call.calls()).toBe(1);
		call.settle('done');
		expect(await Promise.all(together)).toEqual(Array(5).fill('done'));
		expect(await once.run()).toBe('done');
		expect(await once.run()).toBe('done');
		expect(call.calls()).toBe(1);
	});

	it('hands a failure to the callers that shared it, then tries again for the next caller', async () => {
		const call = scripted();
		const once = onceRetrying(call.fn);
		const together = [once.run(), once.run()];
		call.settle(new Error('database down'));
		for (const outcome of await Promise.allSettled(together))
			expect(outcome).toMatchObject({ status: 'rejected', reason: { message: 'database down' } });
		const again = once.run();
		expect(call.calls()).toBe(2);
		call.settle('done');
		expect(await again).toBe('done');
		expect(await once.run()).toBe('done');
		expect(call.calls()).toBe(2);
	});

	it('settled: at once with no call, after the call on its way, never with its failure', async () => {
		const call = scripted();
		const once = onceRetrying(call.fn);
		await once.settled();
		expect(call.calls()).toBe(0);
		const failing = once.run().catch(() => 'refused');
		let settled = false;
		const waiting = once.settled().then(() => (settled = true));
		await new Promise((resolve) => setTimeout(resolve, 10));
		expect(settled).toBe(false);
		call.settle(new Error('no'));
		await waiting;
		expect(await failing).toBe('refused');
		await once.settled();
		expect(call.calls()).toBe(1);
	});

	it('says it is done only once a call succeeded and is kept', async () => {
		const call = scripted();
		const once = onceRetrying(call.fn);
		expect(once.done).toBe(false);
		const failed = once.run();
		call.settle(new Error('down'));
		await expect(failed).rejects.toThrow('down');
		expect(once.done).toBe(false);
		const ok = once.run();
		expect(once.done).toBe(false);
		call.settle('done');
		await ok;
		expect(once.done).toBe(true);
	});
});
