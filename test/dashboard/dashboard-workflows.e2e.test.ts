/**
 * The dashboard's workflow view in headless Chromium: a run's steps drawn as a graph (dagre, SVG) with their
 * statuses and edges, the run commands (retryFrom on the failed step) taking effect, the runs list; and
 * `metrics` served from a prom-client registry behind the same auth.
 */
import { Scheduler } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { QueueContainer } from 'lightsched/containers/queue';
import { dashboardHandler, type DashboardHandler } from 'lightsched/dashboard';
import { SchedulerMetrics } from 'lightsched/metrics';
import { Workflows, workflowActions, type RunRecord, type StepItem } from 'lightsched/workflows';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, screenshot, watchedPage, type WatchedPage } from './browser.js';

const POLL = { timeout: 15_000, interval: 100 };
const TOKEN = 'workflow-token-42';

describe('the dashboard with workflows and metrics', () => {
	let browser: Browser;
	let scheduler: Scheduler<StepItem, unknown>;
	let flows: Workflows;
	let handler: DashboardHandler;
	let server: Server;
	let url: string;
	let view: WatchedPage;
	let run: RunRecord;
	let failures = 1;

	beforeAll(async () => {
		const actions = workflowActions({
			fetch: () => ({ rows: 3 }),
			resize: () => 'resized',
			// Fails the first time, so the run fails and `retryFrom` can finish it.
			encode: () => {
				if (failures-- > 0) throw new Error('encoder crashed <b>once</b>');
				return 'encoded';
			},
			publish: () => 'published',
		});
		scheduler = new Scheduler({
			container: new QueueContainer(),
			actuator: new FunctionActuator(actions),
			maxAttempts: 1,
		});
		flows = new Workflows({ scheduler, actions, sweepMs: 200 });
		flows.define({
			name: 'media',
			steps: [
				{ id: 'fetch', action: 'fetch' },
				{ id: 'resize', action: 'resize', dependsOn: ['fetch'] },
				{ id: 'encode', action: 'encode', dependsOn: ['fetch'] },
				{ id: 'publish', action: 'publish', dependsOn: ['resize', 'encode'] },
			],
		});
		run = await flows.start('media', { key: 'video-7' });
		await flows.wait(run.id).catch(() => undefined);
		const metrics = new SchedulerMetrics();
		metrics.watch(scheduler, { queue: 'media' });
		// Mounted under /ops on a plain node:http server, as an application would.
		handler = dashboardHandler({
			scheduler,
			workflows: flows,
			registry: metrics.registry,
			basePath: '/ops',
			auth: TOKEN,
		});
		server = createServer((req, res) => handler(req, res, () => res.writeHead(418).end('app')));
		await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
		url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/ops/`;
		browser = await launchBrowser();
		view = await watchedPage(browser);
		await view.page.addInitScript((token) => sessionStorage.setItem('lightsched-dashboard-token', token), TOKEN);
	});
	afterAll(async () => {
		await browser?.close();
		await handler?.close();
		if (server !== undefined) {
			server.closeAllConnections();
			await new Promise((resolve) => server.close(resolve));
		}
		await flows?.close();
		await scheduler?.close();
	});

	it('passes requests outside its base path on, and redirects the base path to its page', async () => {
		expect((await fetch(url.replace('/ops/', '/other'))).status).toBe(418);
		const redirect = await fetch(url.replace(/\/$/, ''), { redirect: 'manual' });
		expect(redirect.status).toBe(301);
		expect(redirect.headers.get('location')).toBe('/ops/');
	});

	it("draws a run's steps as a graph with their statuses, and retryFrom finishes the failed run", async () => {
		expect((await flows.get(run.id))?.status).toBe('failed');
		const { page } = view;
		await page.goto(`${url}#/runs`);
		await expect.poll(() => page.locator('#run-table tbody a').allTextContents(), POLL).toEqual([run.id]);
		await screenshot(page, 'runs');
		await page.click('#run-table tbody a');
		const status = (step: string) =>
			page.locator(`#run-graph g.node[data-step="${step}"]`).getAttribute('data-status');
		await expect.poll(() => status('encode'), POLL).toBe('failed');
		expect(await status('fetch')).toBe('succeeded');
		expect(await status('resize')).toBe('succeeded');
		expect(await status('publish')).toBe('waiting');
		expect(await page.locator('#run-graph path.edge').count()).toBe(4);
		expect(await page.locator('#run-graph path.edge[data-from="encode"][data-to="publish"]').count()).toBe(1);
		expect(await page.locator('#run-error').textContent()).toContain('encoder crashed <b>once</b>');
		await page.click('#run-graph g.node[data-step="encode"]');
		await expect.poll(() => page.locator('#step-id').textContent(), POLL).toBe('encode');
		await screenshot(page, 'run');
		await page.click('#run-retryFrom');
		await expect.poll(async () => (await flows.get(run.id))?.status, POLL).toBe('succeeded');
		await page.reload();
		await expect.poll(() => status('publish'), POLL).toBe('succeeded');
		expect(await status('encode')).toBe('succeeded');
		expect(view.dialogs).toEqual([]);
	});

	it('serves the registry at metrics, behind the same auth', async () => {
		expect((await fetch(`${url}metrics`)).status).toBe(401);
		const response = await fetch(`${url}metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
		expect(response.status).toBe(200);
		expect(await response.text()).toMatch(/^lightsched_\w+/m);
	});
});
