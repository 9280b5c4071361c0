/**
 * The dashboard in headless Chromium over a shared container (SQLite, Redis) run by a worker scheduler: the page's
 * numbers match `counts()`, the list filters, pages and searches, a task's page shows its item, output and logs,
 * the actions (stop, retry, remove, clean, pause, resume) change the container, read-only and auth refuse, and
 * HTML in ids and items shows as text.
 */
import type { TaskContainer } from 'lightsched';
import { startDashboard, type RunningDashboard } from 'lightsched/dashboard';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, screenshot, watchedPage, type WatchedPage } from './browser.js';
import { fill, openBackend, worker, XSS_ID, XSS_ITEM, type Backend, type Item } from './fixture.js';
import type { Scheduler } from 'lightsched';

let browser: Browser;
beforeAll(async () => {
	browser = await launchBrowser();
});
afterAll(async () => {
	await browser?.close();
});

const POLL = { timeout: 15_000, interval: 100 };

/**
 * Open a task's page and wait until it shows that task. Going to another task's hash re-renders the view only once
 * its record is fetched: a click before then lands on the previous task's buttons (seen under load: the remove of
 * ok-11 clicked on fail-1's page).
 */
async function openTask(page: Page, url: string, id: string): Promise<void> {
	await page.goto(`${url}#/task/${id}`);
	await expect.poll(() => page.locator('#task-id').textContent(), POLL).toBe(id);
}

describe.each(['SQLite', 'Redis'] as const)('the dashboard on %s', (name) => {
	let backend: Backend;
	let container: TaskContainer;
	let scheduler: Scheduler<Item, unknown>;
	let dashboard: RunningDashboard;
	let view: WatchedPage;

	beforeAll(async () => {
		backend = await openBackend(name);
		container = await backend.container();
		scheduler = worker(container);
		await fill(scheduler);
		dashboard = await startDashboard({ container, port: 0, sampleMs: 200 });
		view = await watchedPage(browser);
	});
	afterAll(async () => {
		await view?.page.context().close();
		await dashboard?.close();
		await scheduler?.close();
		await backend?.stop();
	});

	async function pageCounts(): Promise<Record<string, number>> {
		const out: Record<string, number> = {};
		for (const status of ['waiting', 'running', 'exporting', 'succeeded', 'failed', 'stopped'])
			out[status] = Number(await view.page.locator(`#count-${status}`).textContent());
		return out;
	}

	it('shows the counts of the container, and follows them live (stream, and polling)', async () => {
		const { page } = view;
		await page.goto(dashboard.url);
		await expect
			.poll(async () => JSON.stringify(await pageCounts()), POLL)
			.toBe(JSON.stringify(await container.counts()));
		expect(await page.locator('#live').getAttribute('data-mode')).toBe('stream');
		await scheduler.add({ id: 'ok-live', item: { kind: 'ok', n: 99 } });
		await expect.poll(async () => (await pageCounts()).succeeded, POLL).toBe(14);
		await expect.poll(() => page.locator('#chart-seconds').getAttribute('data-points'), POLL).not.toBe('0');
		await expect.poll(() => page.locator('#latency-recent').textContent(), POLL).toMatch(/\d+(ms|\.\ds)/);
		if (name === 'SQLite') await screenshot(page, 'overview');
		await page.goto(`${dashboard.url}?poll#/`);
		await expect.poll(() => page.locator('#live').getAttribute('data-mode'), POLL).toBe('polling');
		await expect
			.poll(async () => JSON.stringify(await pageCounts()), POLL)
			.toBe(JSON.stringify(await container.counts()));
	});

	it('lists tasks by status, page by page, and finds one by id or by key', async () => {
		const { page } = view;
		const { succeeded } = await container.counts();
		await page.goto(`${dashboard.url}#/tasks?status=succeeded&limit=5&order=asc`);
		await expect(page.locator('#page-range').textContent()).resolves.toBe(`1–5 of ${succeeded}`);
		// Not the last page: the total is the sampled count (no page counts the matching tasks).
		expect(await page.locator('#page-range').getAttribute('data-total-from')).toBe('sample');
		expect(await page.locator('#task-table tbody tr').count()).toBe(5);
		expect(await page.locator('#task-table tbody .badge').allTextContents()).toEqual(Array(5).fill('succeeded'));
		expect(await page.locator('#task-table tbody a').first().textContent()).toBe('ok-0');
		await page.click('#next');
		await expect.poll(() => page.locator('#page-range').textContent(), POLL).toBe(`6–10 of ${succeeded}`);
		expect(await page.locator('#task-table tbody a').first().textContent()).toBe('ok-5');
		await page.selectOption('#filter-status', 'failed');
		await expect.poll(() => page.locator('#page-range').textContent(), POLL).toBe('1–5 of 5');
		// The last page: its total is exact, and there is no next page.
		expect(await page.locator('#page-range').getAttribute('data-total-from')).toBe('page');
		expect(await page.locator('#next').count()).toBe(0);
		if (name === 'SQLite') await screenshot(page, 'tasks');
		await page.fill('#search', 'ok-3');
		await page.selectOption('#filter-status', '');
		await expect.poll(() => page.locator('#task-table tbody a').allTextContents(), POLL).toEqual(['ok-3']);
		await page.fill('#search', 'slow-key');
		await page.press('#search', 'Enter');
		await expect.poll(() => page.locator('#task-table tbody a').allTextContents(), POLL).toEqual(['slow-1']);
	});

	it("shows a task's item, output, progress and logs", async () => {
		const { page } = view;
		await page.goto(`${dashboard.url}#/task/ok-4`);
		await expect.poll(() => page.locator('#task-id').textContent(), POLL).toBe('ok-4');
		expect(JSON.parse((await page.locator('#task-item').textContent()) ?? '')).toEqual({ kind: 'ok', n: 4 });
		expect(JSON.parse((await page.locator('#task-output').textContent()) ?? '')).toEqual({
			doubled: 8,
			html: null,
		});
		expect(await page.locator('#task-logs').textContent()).toContain('line for ok-4');
		expect(await page.locator('#task-timeline li').count()).toBeGreaterThanOrEqual(3);
		if (name === 'SQLite') await screenshot(page, 'task');
		await page.goto(`${dashboard.url}#/task/fail-0`);
		await expect
			.poll(() => page.locator('#task-error').textContent(), POLL)
			.toContain('failed on purpose (fail-0)');
		await page.goto(`${dashboard.url}#/task/slow-2`);
		await expect.poll(() => page.locator('#task-progress').textContent(), POLL).toContain('"of": 10');
	});

	it('shows HTML in ids and items as text, runs no injected script, and keeps its CSP', async () => {
		const { page, dialogs } = view;
		await page.goto(`${dashboard.url}#/tasks?q=${encodeURIComponent(XSS_ID)}`);
		await expect.poll(() => page.locator('#task-table tbody a').allTextContents(), POLL).toEqual([XSS_ID]);
		await page.click('#task-table tbody a');
		await expect.poll(() => page.locator('#task-id').textContent(), POLL).toBe(XSS_ID);
		expect(JSON.parse((await page.locator('#task-item').textContent()) ?? '')).toEqual(XSS_ITEM);
		expect(await page.locator('img[src="x"]').count()).toBe(0);
		expect(await page.locator('b').count()).toBe(0);
		expect(await page.locator('script').count()).toBe(3);
		expect(dialogs).toEqual([]);
		const response = await fetch(dashboard.url);
		expect(response.headers.get('content-security-policy')).toContain("script-src 'self'");
		expect(view.errors.filter((e) => /Content Security Policy/i.test(e))).toEqual([]);
	});

	it('stops, retries and removes tasks, pauses and resumes the queue, and cleans', async () => {
		const { page } = view;
		await openTask(page, dashboard.url, 'slow-1');
		await page.click('#task-stop');
		await expect.poll(async () => (await container.get('slow-1'))?.status, POLL).toBe('stopped');

		const before = await container.get('fail-1');
		await openTask(page, dashboard.url, 'fail-1');
		await page.click('#task-retry');
		await expect.poll(async () => (await container.get('fail-1'))?.seq, POLL).toBeGreaterThan(before?.seq ?? 0);

		await openTask(page, dashboard.url, 'ok-11');
		await page.click('#task-remove');
		await expect.poll(() => container.get('ok-11'), POLL).toBeNull();
		await expect.poll(() => page.evaluate(() => window.location.hash), POLL).toBe('#/tasks');

		await page.goto(dashboard.url);
		await page.click('#pause');
		await expect.poll(() => container.isPaused?.(), POLL).toBe(true);
		await expect.poll(() => page.locator('#queue-state').textContent(), POLL).toContain('paused');
		await scheduler.add({ id: 'held', item: { kind: 'ok' } });
		await page.click('#resume');
		await expect.poll(() => container.isPaused?.(), POLL).toBe(false);
		await expect.poll(async () => (await container.get('held'))?.status, POLL).toBe('succeeded');

		await page.selectOption('#clean-status', 'succeeded');
		await page.fill('#clean-older', '');
		await page.fill('#clean-keep', '2');
		await page.click('#clean');
		await expect.poll(async () => (await container.counts()).succeeded, POLL).toBe(2);
		await expect.poll(async () => (await pageCounts()).succeeded, POLL).toBe(2);
	});

	it('refuses every action when read-only, and hides their buttons', async () => {
		const readOnly = await startDashboard({ container, port: 0, readOnly: true });
		const { page } = await watchedPage(browser);
		try {
			await page.goto(`${readOnly.url}#/task/slow-2`);
			await expect.poll(() => page.locator('#read-only').count(), POLL).toBe(1);
			expect(await page.locator('#task-stop').isVisible()).toBe(false);
			for (const path of ['api/tasks/slow-2/stop', 'api/queue/pause', 'api/clean']) {
				const response = await fetch(readOnly.url + path, {
					method: 'POST',
					headers: { 'x-lightsched-dashboard': '1', 'content-type': 'application/json' },
					body: '{"status":"failed"}',
				});
				expect({ path, status: response.status }).toEqual({ path, status: 403 });
			}
			expect((await container.get('slow-2'))?.status).toBe('running');
			expect(await container.isPaused?.()).toBe(false);
			expect((await container.counts()).failed).toBeGreaterThan(0);
		} finally {
			await page.context().close();
			await readOnly.close();
		}
	});

	it('refuses the API without the token (and actions without the CSRF header); the page asks for the token', async () => {
		const token = 'secret-token-123';
		const guarded = await startDashboard({ container, port: 0, auth: token });
		const hooked = await startDashboard({ container, port: 0, auth: (req) => req.headers['x-user'] === 'ops' });
		const { page } = await watchedPage(browser);
		try {
			expect((await fetch(`${guarded.url}api/tasks`)).status).toBe(401);
			expect((await fetch(`${guarded.url}api/events`)).status).toBe(401);
			expect(
				(await fetch(`${guarded.url}api/tasks`, { headers: { authorization: 'Bearer wrong-token-1234' } }))
					.status,
			).toBe(401);
			expect(
				(await fetch(`${guarded.url}api/tasks`, { headers: { authorization: `Bearer ${token}` } })).status,
			).toBe(200);
			const noHeader = await fetch(`${guarded.url}api/queue/pause`, {
				method: 'POST',
				headers: { authorization: `Bearer ${token}` },
			});
			expect(noHeader.status).toBe(403);
			expect(await container.isPaused?.()).toBe(false);
			expect((await fetch(`${hooked.url}api/info`)).status).toBe(401);
			expect((await fetch(`${hooked.url}api/info`, { headers: { 'x-user': 'ops' } })).status).toBe(200);

			await page.goto(guarded.url);
			await expect.poll(() => page.locator('#token').count(), POLL).toBe(1);
			expect(await page.locator('#count-succeeded').count()).toBe(0);
			await page.fill('#token', token);
			await page.click('.token-form button');
			const { failed } = await container.counts();
			await expect.poll(() => page.locator('#count-failed').textContent(), POLL).toBe(String(failed));
		} finally {
			await page.context().close();
			await guarded.close();
			await hooked.close();
		}
	});
});
