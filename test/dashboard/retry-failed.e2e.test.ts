/**
 * The retry of the failed runs of a key in bulk, on a shared container (SQLite, Redis): `POST api/runs/retryFailed`
 * through a `RunOperator` (as `lightsched dashboard` has it) retries the failed runs of key A created in a time range
 * (`from` included, `to` not), then the oldest `limit` of them, and none of key B, answering `{ count, retried,
 * truncated }`; it refuses bad fields (a time that is not epoch milliseconds, `to` not after `from`) with 400 and a
 * read-only dashboard with 403; the runs page's "Retry failed (N)" button, once confirmed, retries the rest (at most
 * the limit given; a bad one is reported), says how many and refreshes the list; filtered to a time range typed in
 * the page (local time, in a browser away from UTC), it shows and retries only the failed runs of key B in that
 * range; a key "0" or a bound at the epoch stays in the page's address; the workers' `Workflows` finishes them.
 */
import { Scheduler, type TaskContainer } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { startDashboard, type RunningDashboard } from 'lightsched/dashboard';
import { RunOperator, Workflows, workflowActions, type RunRecord, type StepItem } from 'lightsched/workflows';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, screenshot, watchedPage, type WatchedPage } from './browser.js';
import { openBackend, type Backend } from './fixture.js';

const POLL = { timeout: 20_000, interval: 100 };

/** A time in Kolkata (UTC+5:30, no summer time) as "2026-12-07 04:00:15.123". */
function kolkataText(ms: number): string {
	return new Date(ms + 330 * 60_000).toISOString().slice(0, 23).replace('T', ' ');
}

/** A time in Kolkata as a `datetime-local` input holds it (Chromium's form: no `:00` seconds, no trailing zeros). */
function kolkataInput(ms: number): string {
	return kolkataText(ms)
		.replace(' ', 'T')
		.replace(/\.?0+$/, '')
		.replace(/:00$/, '');
}

let browser: Browser;
beforeAll(async () => {
	browser = await launchBrowser();
});
afterAll(async () => {
	await browser?.close();
});

describe.each(['SQLite', 'Redis'] as const)('retrying the failed runs of a key on %s', (name) => {
	let backend: Backend;
	let container: TaskContainer;
	let scheduler: Scheduler<StepItem, unknown>;
	let flows: Workflows;
	let dashboard: RunningDashboard;
	let view: WatchedPage;
	let healed = false;
	const runsOf: Record<'A' | 'B', RunRecord[]> = { A: [], B: [] };
	const allFailedB = ['failed', 'failed', 'failed', 'failed'];

	const post = (base: string, body: unknown) =>
		fetch(`${base}api/runs/retryFailed`, {
			method: 'POST',
			headers: { 'x-lightsched-dashboard': '1', 'content-type': 'application/json' },
			body: JSON.stringify(body),
		});
	const statuses = async (key: 'A' | 'B') =>
		Promise.all(runsOf[key].map(async (run) => (await flows.get(run.id))?.status));

	beforeAll(async () => {
		backend = await openBackend(name);
		container = await backend.container();
		const actions = workflowActions({
			flaky: () => {
				if (!healed) throw new Error('not yet');
				return 'fixed';
			},
		});
		scheduler = new Scheduler({ container, actuator: new FunctionActuator(actions) });
		flows = new Workflows({ scheduler, actions, sweepMs: 100 });
		flows.define({ name: 'flaky', steps: [{ id: 'a', action: 'flaky', maxAttempts: 1 }] });
		for (const key of ['A', 'A', 'A', 'A', 'A', 'A', 'B', 'B', 'B', 'B'] as const) {
			const run = await flows.start('flaky', { key });
			runsOf[key].push(run);
			// Each run created in a millisecond of its own, so that a time range can part them.
			while (Date.now() <= run.createdAt) await new Promise((resolve) => setTimeout(resolve, 1));
		}
		for (const run of [...runsOf.A, ...runsOf.B]) expect((await flows.wait(run.id)).status).toBe('failed');
		// The operator's side, as `lightsched dashboard` has it: commands written for the workers to carry out.
		dashboard = await startDashboard({
			scheduler,
			workflows: new RunOperator({ store: flows.store, scheduler }),
			port: 0,
		});
		view = await watchedPage(browser);
	});
	afterAll(async () => {
		await view?.page.context().close();
		await dashboard?.close();
		await flows?.close();
		await scheduler?.close();
		await backend?.stop();
	});

	const allFailed = ['failed', 'failed', 'failed', 'failed', 'failed', 'failed'];

	it('refuses an unknown field, a bad limit or time with 400, naming the field and what it expects', async () => {
		const ms = 'a time in milliseconds since the epoch (a whole number >= 0)';
		for (const [body, field, expected] of [
			[{ key: 'A', status: 'failed' }, 'status', 'from, to, limit'],
			[{ key: 'A', limit: 0 }, 'limit', 'an integer >= 1'],
			[{ key: 'A', limit: 1.5 }, 'limit', 'an integer >= 1'],
			[{ key: 'A', limit: '2' }, 'limit', 'an integer >= 1'],
			[{ key: 7 }, 'key', 'a non-empty string'],
			[{ definition: '' }, 'definition', 'a non-empty string'],
			[{ key: 'A', from: '2026-12-06T22:00:00Z' }, 'from', ms],
			[{ key: 'A', from: -1 }, 'from', ms],
			[{ key: 'A', to: 1.5 }, 'to', ms],
			[{ key: 'A', to: null }, 'to', ms],
			[{ key: 'A', from: 2000, to: 2000 }, 'to', 'to be after `from`'],
			[{ key: 'A', from: 2000, to: 1000 }, 'to', 'to be after `from`'],
		] as const) {
			const response = await post(dashboard.url, body);
			const answer = (await response.json()) as { error: { message: string } };
			expect({ body, status: response.status }).toEqual({ body, status: 400 });
			expect(answer.error.message).toContain(`\`${field}\``);
			expect(answer.error.message).toContain(expected);
		}
		expect(await statuses('A')).toEqual(allFailed);
	});

	it('is refused by a read-only dashboard as the single retry is, and its page shows no button', async () => {
		const readOnly = await startDashboard({
			scheduler,
			workflows: new RunOperator({ store: flows.store, scheduler }),
			port: 0,
			readOnly: true,
		});
		const { page } = await watchedPage(browser);
		try {
			const bulk = await post(readOnly.url, { key: 'A' });
			const single = await fetch(`${readOnly.url}api/runs/${runsOf.A[0]?.id}/retry`, {
				method: 'POST',
				headers: { 'x-lightsched-dashboard': '1' },
			});
			expect(bulk.status).toBe(403);
			expect(await bulk.json()).toEqual(await single.json());
			// The writable dashboard's page shows the button on this list; the read-only one's does not.
			await page.goto(`${dashboard.url}#/runs?status=failed&key=A`);
			await expect.poll(() => page.locator('#retry-failed').textContent(), POLL).toBe('Retry failed (6)');
			await page.goto(`${readOnly.url}#/runs?status=failed&key=A`);
			await expect.poll(() => page.locator('#read-only').count(), POLL).toBe(1);
			await expect.poll(() => page.locator('#run-table tbody a').count(), POLL).toBe(6);
			expect(await page.locator('#retry-failed').count()).toBe(0);
		} finally {
			await page.context().close();
			await readOnly.close();
		}
		expect(await statuses('A')).toEqual(allFailed);
	});

	it('retries the failed runs of key A in a time range, then the oldest `limit`, none of key B', async () => {
		healed = true;
		const [a0, a1, a2] = runsOf.A.map((run) => run.id);
		// [A1's creation, A3's): A1 and A2; not A0 (before), nor A3 (`to` is excluded), nor B's runs (another key).
		const ranged = await post(dashboard.url, {
			key: 'A',
			from: runsOf.A[1]?.createdAt,
			to: runsOf.A[3]?.createdAt,
		});
		expect(ranged.status).toBe(200);
		expect(await ranged.json()).toEqual({ count: 2, retried: [a1, a2], truncated: false });
		const limited = await post(dashboard.url, { key: 'A', definition: 'flaky', limit: 1 });
		expect(await limited.json()).toEqual({ count: 1, retried: [a0], truncated: false });
		for (const id of [a0, a1, a2]) {
			const done = await flows.wait(id ?? '', { timeoutMs: 20_000 });
			expect(done.steps.a).toMatchObject({ status: 'succeeded', output: 'fixed', generation: 2 });
		}
		expect(await statuses('A')).toEqual(['succeeded', 'succeeded', 'succeeded', 'failed', 'failed', 'failed']);
		expect(await statuses('B')).toEqual(allFailedB);
	});

	it('retries the rest from the runs page once confirmed, says how many, and refreshes the list', async () => {
		const { page, dialogs, errors } = view;
		const failedB = await Promise.all(runsOf.B.map((run) => flows.get(run.id)));
		await page.goto(`${dashboard.url}#/runs?status=failed&key=A`);
		await expect.poll(() => page.locator('#retry-failed').textContent(), POLL).toBe('Retry failed (3)');
		await page.click('#retry-failed');
		await page.click('#retry-failed-cancel');
		expect(await page.locator('#retry-failed-confirm').isVisible()).toBe(false);
		await page.fill('#retry-failed-limit', '2');
		await page.click('#retry-failed');
		expect(await page.locator('#retry-failed-confirm-box').textContent()).toContain(
			'Retry the oldest 2 of the 3 failed runs of key A?',
		);
		if (name === 'SQLite') await screenshot(page, 'runs-retry-failed');
		await page.click('#retry-failed-confirm');
		await expect.poll(() => page.locator('#notice').textContent(), POLL).toBe('Retried 2 failed runs');
		await expect.poll(() => page.locator('#retry-failed').textContent(), POLL).toBe('Retry failed (1)');
		await page.fill('#retry-failed-limit', '0');
		await page.click('#retry-failed');
		await page.click('#retry-failed-confirm');
		await expect
			.poll(() => page.locator('#notice').textContent(), POLL)
			.toBe('Bulk retry failed: Expected `limit` to be an integer >= 1, got 0');
		await page.fill('#retry-failed-limit', '');
		await page.click('#retry-failed');
		await page.click('#retry-failed-confirm');
		await expect.poll(() => page.locator('#notice').textContent(), POLL).toBe('Retried 1 failed run');
		await expect.poll(() => page.locator('#run-table tbody').textContent(), POLL).toBe('No runs.');
		expect(await page.locator('#retry-failed').count()).toBe(0);
		for (const run of runsOf.A) {
			const done = await flows.wait(run.id, { timeoutMs: 20_000 });
			expect({ id: run.id, status: done.status }).toEqual({ id: run.id, status: 'succeeded' });
		}
		expect(await Promise.all(runsOf.B.map((run) => flows.get(run.id)))).toEqual(failedB);
		expect(dialogs).toEqual([]);
		expect(errors.filter((e) => /Content Security Policy/i.test(e))).toEqual([]);
	});

	it('retries only the failed runs the page shows in the time range typed in its filter', async () => {
		// Kolkata is UTC+5:30: a page reading its inputs as UTC would be off by 5.5 hours.
		const { page, dialogs, errors } = await watchedPage(browser, { timezoneId: 'Asia/Kolkata' });
		const [, b1, b2] = runsOf.B.map((run) => run.id);
		const from = runsOf.B[1]?.createdAt ?? 0;
		const to = runsOf.B[3]?.createdAt ?? 0;
		try {
			await page.goto(`${dashboard.url}#/runs?status=failed&key=B`);
			await expect.poll(() => page.locator('#retry-failed').textContent(), POLL).toBe('Retry failed (4)');
			// [B1's creation, B3's), typed in Kolkata's time to the millisecond: B1 and B2; not B0 nor B3.
			await page.fill('#run-from', kolkataInput(from));
			await page.fill('#run-to', kolkataInput(to));
			await page.click('.filters button[type=submit]');
			await expect
				.poll(() => page.evaluate(() => window.location.hash), POLL)
				.toBe(`#/runs?status=failed&key=B&from=${from}&to=${to}`);
			await expect.poll(() => page.locator('#retry-failed').textContent(), POLL).toBe('Retry failed (2)');
			const shown = () =>
				page
					.locator('#run-table tbody tr')
					.evaluateAll((rows) => rows.map((row) => row.getAttribute('data-run')));
			expect(await shown()).toEqual([b2, b1]);
			// The range is kept in the page's address: opened from it, the page shows the same inputs and runs.
			await page.reload();
			await expect.poll(() => page.locator('#retry-failed').textContent(), POLL).toBe('Retry failed (2)');
			expect(await page.inputValue('#run-from')).toBe(kolkataInput(from));
			expect(await page.inputValue('#run-to')).toBe(kolkataInput(to));
			expect(await shown()).toEqual([b2, b1]);
			await page.click('#retry-failed');
			expect(await page.locator('#retry-failed-confirm-box').textContent()).toContain(
				`Retry the 2 failed runs of key B created from ${kolkataText(from)} and before ${kolkataText(to)}?`,
			);
			await page.click('#retry-failed-confirm');
			await expect.poll(() => page.locator('#notice').textContent(), POLL).toBe('Retried 2 failed runs');
			await expect.poll(() => page.locator('#run-table tbody').textContent(), POLL).toBe('No runs.');
			for (const id of [b1, b2]) {
				const done = await flows.wait(id ?? '', { timeoutMs: 20_000 });
				expect(done.steps.a).toMatchObject({ status: 'succeeded', output: 'fixed', generation: 2 });
			}
			expect(await statuses('B')).toEqual(['failed', 'succeeded', 'succeeded', 'failed']);
			expect(dialogs).toEqual([]);
			expect(errors.filter((e) => /Content Security Policy/i.test(e))).toEqual([]);
		} finally {
			await page.context().close();
		}
	});

	it('keeps a filter of 0 in the page\'s address: a key "0", a bound at the epoch', async () => {
		const { page } = await watchedPage(browser, { timezoneId: 'Asia/Kolkata' });
		try {
			await page.goto(`${dashboard.url}#/runs`);
			await expect.poll(() => page.locator('#run-table tbody a').count(), POLL).toBe(10);
			await page.fill('#run-key', '0');
			await page.fill('#run-to', kolkataInput(0));
			await page.click('.filters button[type=submit]');
			await expect.poll(() => page.evaluate(() => window.location.hash), POLL).toBe('#/runs?key=0&to=0');
			await expect.poll(() => page.locator('#run-table tbody').textContent(), POLL).toBe('No runs.');
		} finally {
			await page.context().close();
		}
	});
});
