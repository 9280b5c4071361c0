/**
 * `onFinished` once per final status when the run moves on during the callback: the process that called it for
 * one status must not record another as notified (workflows/run-effects.ts, `notifyFinished`).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryWorkflowStore, RunOperator, type RunRecord } from 'lightsched/workflows';
import { gate, makeFlows, until, untilAborted, type FlowSetup } from './fixture.js';

/** A memory store that logs each change of a run's `notified`, in order with the callback's calls. */
class NotifiedLog extends MemoryWorkflowStore {
	readonly log: string[];
	#last: string | null = null;

	constructor(log: string[]) {
		super();
		this.log = log;
	}

	override async update(run: RunRecord): Promise<RunRecord | null> {
		const written = await super.update(run);
		if (written !== null && written.notified !== this.#last) {
			this.#last = written.notified;
			this.log.push(`notified:${String(written.notified)}`);
		}
		return written;
	}
}

describe('onFinished when the run moves to another final status during the callback', () => {
	let setup: FlowSetup | undefined;
	afterEach(async () => {
		await setup?.close();
		setup = undefined;
	});

	it('a retry then a stop while the callback for `failed` runs: `stopped` is called too, and recorded only after its call', async () => {
		const log: string[] = [];
		const release = gate();
		setup = makeFlows(
			'QueueContainer',
			{
				boom: () => {
					throw new Error('no');
				},
			},
			{ store: new NotifiedLog(log), dispatchGraceMs: 200 },
		);
		const { flows, scheduler, store } = setup;
		flows.define({
			name: 'cb',
			steps: [{ id: 'a', action: 'boom', maxAttempts: 1 }],
			onFinished: async (run: RunRecord) => {
				log.push(`called:${run.status}`);
				if (run.status === 'failed') await release.promise;
			},
		});
		const run = await flows.start('cb');
		await until(() => log.includes('called:failed'), 5000, 'the callback for `failed`');
		// Another process's operator: it writes the commands and advances nothing.
		const operator = new RunOperator({ store, scheduler });
		await operator.retry(run.id);
		const stopped = await operator.stop(run.id);
		expect(stopped.status).toBe('stopped');
		const waited = flows.wait(run.id, { timeoutMs: 5000 }).then((done) => ({ done, log: [...log] }));
		release.open();

		await until(
			async () => (await store.get(run.id))?.notified === 'stopped',
			5000,
			'`stopped` recorded as notified',
		);
		expect(log).toEqual(['called:failed', 'called:stopped', 'notified:stopped']);
		const { done, log: atWait } = await waited;
		expect(done.status).toBe('stopped');
		expect(done.notified).toBe('stopped');
		expect(atWait).toContain('called:stopped');
		// Once each: nothing calls again afterwards.
		await new Promise((resolve) => setTimeout(resolve, 400));
		expect(log).toEqual(['called:failed', 'called:stopped', 'notified:stopped']);
	});

	it('a retry then a stop while the callback for `stopped` runs: the second `stopped` is called too', async () => {
		const log: string[] = [];
		const release = gate();
		setup = makeFlows(
			'QueueContainer',
			{ slow: (_p, ctx) => untilAborted(ctx.signal) },
			{ store: new NotifiedLog(log), dispatchGraceMs: 200 },
		);
		const { flows, scheduler, store } = setup;
		let calls = 0;
		flows.define({
			name: 'cb',
			steps: [{ id: 'a', action: 'slow' }],
			onFinished: async (run: RunRecord) => {
				log.push(`called:${run.status}`);
				if (++calls === 1) await release.promise;
			},
		});
		const run = await flows.start('cb');
		await until(async () => (await store.get(run.id))?.steps.a?.status === 'running', 5000, 'the step to run');
		void flows.stop(run.id);
		await until(() => log.includes('called:stopped'), 5000, 'the first callback for `stopped`');
		const first = (await store.get(run.id)) as RunRecord;
		// The second stop a moment later: the run reaches `stopped` again, at another time.
		await new Promise((resolve) => setTimeout(resolve, 5));
		const operator = new RunOperator({ store, scheduler });
		await operator.retry(run.id);
		const again = await operator.stop(run.id);
		expect(again.finishedAt).toBeGreaterThan(first.finishedAt as number);
		release.open();

		const done = await flows.wait(run.id, { timeoutMs: 5000 });
		expect(done.notified).toBe('stopped');
		expect(done.finishedAt).toBe(again.finishedAt);
		expect(log).toEqual(['called:stopped', 'called:stopped', 'notified:stopped']);
	});
});
