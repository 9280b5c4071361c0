/**
 * The video-cut example end to end, as a user meets it: the ffmpeg cut service and the web app started through
 * their exported functions (what `npm run demo` does), driven through the page by headless Chromium.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createVideoCutApp, type VideoCutApp } from '../../examples/video-cut/app/server.js';
import type { TaskView } from '../../examples/video-cut/app/cut-task.js';
import { createCutService, type CutService } from '../../examples/video-cut/service/server.js';
import { ensureSampleVideo } from '../../examples/video-cut/service/sample.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
	'--headless',
	'--no-sandbox',
	'--disable-gpu',
	'--disable-background-networking',
	'--disable-quic',
	'--no-first-run',
	'--disable-component-update',
	'--disable-sync',
];
const SCREENSHOTS = fileURLToPath(new URL('../../test-output/', import.meta.url));
const XSS_NAME = '<script>alert(1)</script><img src=x onerror="alert(2)">';

/** Chromium from Debian: installed by this setup when running as root, else a clear failure with the command. */
function ensureChromium(): void {
	if (existsSync(CHROMIUM)) return;
	if (process.getuid?.() === 0)
		execFileSync('apt-get', ['install', '-y', 'chromium'], { stdio: 'inherit', timeout: 600_000 });
	if (!existsSync(CHROMIUM))
		throw new Error(
			`Chromium is missing at ${CHROMIUM}: install it with \`apt-get install -y chromium\` (as root)`,
		);
}

/** A raw GET, the path sent exactly as given (no URL normalisation), with optional headers. */
function rawRequest(
	base: string,
	path: string,
	options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
	const url = new URL(base);
	return new Promise((resolve, reject) => {
		const req = request(
			{
				host: url.hostname,
				port: url.port,
				path,
				method: options.method ?? 'GET',
				headers: options.headers ?? {},
			},
			(res) => {
				const chunks: Buffer[] = [];
				res.on('data', (chunk: Buffer) => chunks.push(chunk));
				res.on('end', () =>
					resolve({
						status: res.statusCode ?? 0,
						body: Buffer.concat(chunks).toString('utf8'),
						headers: res.headers,
					}),
				);
			},
		);
		req.on('error', reject);
		req.end(options.body);
	});
}

describe('video-cut example (service + app + page in Chromium)', () => {
	let root: string;
	let mediaDir: string;
	let dataDir: string;
	let service: CutService;
	let serviceUrl: string;
	let app: VideoCutApp;
	let context: BrowserContext;
	let page: Page;
	const dialogs: string[] = [];

	const api = async <T>(path: string, init: RequestInit = {}): Promise<{ status: number; body: T }> => {
		const res = await fetch(new URL(path, app.url), init);
		return { status: res.status, body: (await res.json()) as T };
	};
	const postJson = <T>(path: string, body: unknown): Promise<{ status: number; body: T }> =>
		api<T>(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
	const row = (name: string) => page.locator('#tasks tr', { has: page.locator('td.name', { hasText: name }) });
	const waitForStatus = (name: string, status: string, timeout = 30_000) =>
		page
			.locator(`#tasks tr[data-status="${status}"]`, { has: page.locator('td.name', { hasText: name }) })
			.waitFor({ timeout });

	async function createThroughForm(name: string, start: number, end: number): Promise<void> {
		await page.selectOption('#input', 'sample.mp4');
		await page.fill('#start', String(start));
		await page.fill('#end', String(end));
		await page.fill('#name', name);
		await page.click('#create-button');
		await row(name).waitFor({ timeout: 10_000 });
	}

	async function taskIdOf(name: string): Promise<string> {
		const id = await row(name).first().getAttribute('data-id');
		if (id === null) throw new Error(`no row for ${name}`);
		return id;
	}

	async function openPage(): Promise<void> {
		await page.goto(app.url);
		// The page listens to server-sent events once it says "live".
		await page.waitForFunction(() => document.body.dataset.live === 'events', undefined, { timeout: 10_000 });
	}

	beforeAll(async () => {
		ensureChromium();
		root = await mkdtemp(join(tmpdir(), 'video-cut-e2e-'));
		mediaDir = join(root, 'media');
		dataDir = join(root, 'data');
		await ensureSampleVideo(mediaDir);
		// A link out of the media folder must never be offered or served.
		await symlink('/etc/passwd', join(mediaDir, 'leak.mp4'));
		// Real-time speed: a cut takes as long as it lasts, so a long one can be watched and stopped mid-run.
		service = createCutService({ mediaDir, realtime: true });
		serviceUrl = await service.listen(0, '127.0.0.1');
		app = await createVideoCutApp({ dataDir, mediaDir, serviceUrl });
		await mkdir(SCREENSHOTS, { recursive: true });
		context = await chromium.launchPersistentContext(join(root, 'chromium-profile'), {
			executablePath: CHROMIUM,
			headless: true,
			args: CHROMIUM_ARGS,
			viewport: { width: 1400, height: 900 },
		});
		page = context.pages()[0] ?? (await context.newPage());
		page.on('dialog', (dialog) => {
			dialogs.push(dialog.message());
			void dialog.dismiss();
		});
	});

	afterAll(async () => {
		await context?.close();
		await app?.close();
		await service?.close();
		if (root !== undefined) await rm(root, { recursive: true, force: true });
	});

	it('serves the page on the loopback address with the sample video offered', async () => {
		expect(app.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
		await openPage();
		expect(await page.title()).toContain('Video cuts');
		const options = await page.locator('#input option').allTextContents();
		expect(options).toEqual(['sample.mp4']);
		expect(await page.textContent('#page-info')).toContain('0 tasks');
	});

	it('rejects a bad cut with a message naming the field', async () => {
		await page.selectOption('#input', 'sample.mp4');
		await page.fill('#start', '5');
		await page.fill('#end', '2');
		await page.fill('#name', 'backwards');
		await page.click('#create-button');
		await page.waitForFunction(() => (document.getElementById('form-error')?.textContent ?? '').length > 0);
		expect(await page.textContent('#form-error')).toContain('`end`');
		expect(await page.getAttribute('#end', 'aria-invalid')).toBe('true');
		const { body } = await api<{ total: number }>('/api/tasks');
		expect(body.total).toBe(0);
		const missing = await postJson<{ error: string; field: string }>('/api/tasks', {
			input: 'sample.mp4',
			start: 0,
			end: 1,
		});
		expect(missing.status).toBe(400);
		expect(missing.body.field).toBe('name');
	});

	it('creates two cuts through the form and sees them succeed live', async () => {
		await createThroughForm('First cut', 0, 2);
		await createThroughForm('Second cut', 3, 5);
		// No reload: the rows change through the event stream.
		await waitForStatus('First cut', 'succeeded');
		await waitForStatus('Second cut', 'succeeded');
		expect(await row('First cut').locator('td.range').textContent()).toBe('0–2 s');
		const { body } = await api<{ tasks: TaskView[]; total: number }>('/api/tasks');
		expect(body.total).toBe(2);
		expect(body.tasks.map((t) => t.name)).toEqual(['Second cut', 'First cut']);
		expect(body.tasks.every((t) => t.status === 'succeeded' && typeof t.output === 'string')).toBe(true);
		await page.screenshot({ path: join(SCREENSHOTS, 'video-cut-succeeded.png'), fullPage: true });
	});

	it('plays the output beside the input, with seeking by HTTP Range', async () => {
		await row('First cut').locator('button[data-action="view"]').click();
		await page.waitForFunction(
			() => {
				const video = document.getElementById('player-output') as HTMLVideoElement | null;
				return video !== null && video.readyState >= 1 && video.duration > 0;
			},
			undefined,
			{ timeout: 15_000 },
		);
		const duration = await page.$eval('#player-output', (v) => (v as HTMLVideoElement).duration);
		expect(duration).toBeGreaterThan(1);
		expect(duration).toBeLessThan(3.5);
		await page.waitForFunction(
			() => {
				const video = document.getElementById('player-input') as HTMLVideoElement | null;
				return video !== null && video.readyState >= 1 && video.duration > 25;
			},
			undefined,
			{ timeout: 15_000 },
		);
		await page.screenshot({ path: join(SCREENSHOTS, 'video-cut-player.png'), fullPage: true });
		const id = await taskIdOf('First cut');
		const ranged = await fetch(new URL(`/media/output/${id}`, app.url), { headers: { range: 'bytes=0-99' } });
		expect(ranged.status).toBe(206);
		expect(ranged.headers.get('content-range')).toMatch(/^bytes 0-99\/\d+$/);
		expect((await ranged.arrayBuffer()).byteLength).toBe(100);
		const beyond = await fetch(new URL(`/media/output/${id}`, app.url), { headers: { range: 'bytes=999999999-' } });
		expect(beyond.status).toBe(416);
		await page.click('#player-close');
	});

	it('shows the progress of a longer cut and stops it mid-run', async () => {
		await createThroughForm('Long cut', 0, 25);
		const id = await taskIdOf('Long cut');
		await page.waitForFunction(
			(taskId) => {
				const bar = document.querySelector(
					`#tasks tr[data-id="${taskId}"] progress`,
				) as HTMLProgressElement | null;
				return bar !== null && bar.value > 0;
			},
			id,
			{ timeout: 20_000 },
		);
		await page.screenshot({ path: join(SCREENSHOTS, 'video-cut-progress.png'), fullPage: true });
		// A running task cannot be deleted.
		const refused = await api<{ error: string }>(`/api/tasks/${id}`, { method: 'DELETE' });
		expect(refused.status).toBe(409);
		await row('Long cut').locator('button[data-action="stop"]').click();
		await waitForStatus('Long cut', 'stopped', 15_000);
		const task = await app.scheduler.get(id);
		expect(task?.status).toBe('stopped');
		expect(task?.attempts).toBe(1);
		// The service really stopped the ffmpeg job.
		const remote = (await (await fetch(`${serviceUrl}/cuts/${String(task?.ref)}`)).json()) as {
			status: string;
			error?: string;
		};
		expect(remote.status).toBe('failed');
		expect(remote.error).toBe('stopped');
	});

	it('shows the reason of a cut the service refuses', async () => {
		await createThroughForm('Too long', 20, 40);
		await waitForStatus('Too long', 'failed', 20_000);
		// The sample lasts 30 s, or 30.02 s as some ffmpeg builds encode it.
		expect(await row('Too long').locator('td.reason').textContent()).toMatch(
			/^The cut service refused the cut \(HTTP 400\): end: expected an end within the video \(30(\.\d+)? s\), got 40$/,
		);
		// A refusal would only be refused again: no second attempt.
		const task = await app.scheduler.get(await taskIdOf('Too long'));
		expect(task?.attempts).toBe(1);
		expect(task?.error?.code).toBe('ERR_NON_RETRYABLE');
	});

	it('deletes a finished cut', async () => {
		const id = await taskIdOf('Second cut');
		await row('Second cut').locator('button[data-action="delete"]').click();
		await row('Second cut').waitFor({ state: 'detached', timeout: 10_000 });
		expect((await api(`/api/tasks/${id}`)).status).toBe(404);
		expect((await api(`/api/tasks/${id}`, { method: 'DELETE' })).status).toBe(404);
	});

	it('shows a name with markup as text, and no script runs', async () => {
		await createThroughForm(XSS_NAME, 5, 6);
		await waitForStatus(XSS_NAME, 'succeeded');
		const cell = row(XSS_NAME).locator('td.name');
		expect(await cell.textContent()).toBe(XSS_NAME);
		expect(await page.locator('#tasks script, #tasks img').count()).toBe(0);
		expect(dialogs).toEqual([]);
		await page.screenshot({ path: join(SCREENSHOTS, 'video-cut-list.png'), fullPage: true });
	});

	it('keeps every task and result across a restart of the app', async () => {
		const before = (await api<{ tasks: TaskView[] }>('/api/tasks')).body.tasks;
		expect(before.map((t) => [t.name, t.status])).toEqual([
			[XSS_NAME, 'succeeded'],
			['Too long', 'failed'],
			['Long cut', 'stopped'],
			['First cut', 'succeeded'],
		]);
		// A cut still running when the app closes is handed back and runs again after the start.
		const interrupted = (
			await postJson<{ task: TaskView }>('/api/tasks', {
				name: 'Interrupted cut',
				input: 'sample.mp4',
				start: 0,
				end: 20,
			})
		).body.task;
		await waitForStatus('Interrupted cut', 'running', 10_000);
		await app.close();
		app = await createVideoCutApp({ dataDir, mediaDir, serviceUrl });
		const after = (await api<{ tasks: TaskView[] }>('/api/tasks')).body.tasks;
		expect(after.filter((t) => t.id !== interrupted.id)).toEqual(before);
		expect(after[0]?.id).toBe(interrupted.id);
		await openPage();
		await page
			.locator(`#tasks tr[data-id="${interrupted.id}"][data-status="running"]`)
			.waitFor({ timeout: 10_000 });
		// The interrupted attempt is not counted: this is its first attempt again.
		expect((await app.scheduler.get(interrupted.id))?.attempts).toBe(1);
		await page.locator(`#tasks tr[data-id="${interrupted.id}"] button[data-action="stop"]`).click();
		await page
			.locator(`#tasks tr[data-id="${interrupted.id}"][data-status="stopped"]`)
			.waitFor({ timeout: 10_000 });
		await waitForStatus('First cut', 'succeeded');
		await row('First cut').locator('button[data-action="view"]').click();
		await page.waitForFunction(
			() => {
				const video = document.getElementById('player-output') as HTMLVideoElement | null;
				return video !== null && video.readyState >= 1 && video.duration > 0;
			},
			undefined,
			{ timeout: 15_000 },
		);
		await page.waitForFunction(
			() => (document.getElementById('player-input') as HTMLVideoElement | null)?.readyState === 4,
			undefined,
			{ timeout: 15_000 },
		);
		// Show a frame of each video for the screenshot.
		await page.evaluate(() =>
			Promise.all(
				['player-input', 'player-output'].map((id) => {
					const video = document.getElementById(id) as HTMLVideoElement;
					return new Promise((resolve) => {
						video.addEventListener('seeked', resolve, { once: true });
						video.currentTime = 1;
					});
				}),
			),
		);
		await page.waitForFunction(
			() =>
				['player-input', 'player-output'].every(
					(id) => (document.getElementById(id) as HTMLVideoElement).readyState >= 3,
				),
			undefined,
			{ timeout: 15_000 },
		);
		await page.screenshot({ path: join(SCREENSHOTS, 'video-cut-restarted.png'), fullPage: true });
		await page.click('#player-close');
		expect(dialogs).toEqual([]);
	});

	it('re-runs a finished cut with Restart', async () => {
		const id = await taskIdOf('Long cut');
		// The restarted task keeps its id and item and runs again; stop it once it runs.
		await row('Long cut').locator('button[data-action="restart"]').click();
		await page.locator(`#tasks tr[data-id="${id}"][data-status="running"]`).waitFor({ timeout: 10_000 });
		const restarted = await app.scheduler.get(id);
		expect(restarted?.status).toBe('running');
		expect((await postJson<{ error: string }>(`/api/tasks/${id}/restart`, {})).status).toBe(409);
		await page.locator(`#tasks tr[data-id="${id}"] button[data-action="stop"]`).click();
		await page.locator(`#tasks tr[data-id="${id}"][data-status="stopped"]`).waitFor({ timeout: 10_000 });
	});

	it('pages through a long list, ten at a time', async () => {
		for (let i = 1; i <= 8; i++) {
			const created = await postJson<{ task: TaskView }>('/api/tasks', {
				name: `Batch ${i}`,
				input: 'sample.mp4',
				start: 0,
				end: 0.5,
			});
			expect(created.status).toBe(201);
		}
		await page.waitForFunction(
			() => (document.getElementById('page-info')?.textContent ?? '').includes('13 tasks'),
			undefined,
			{ timeout: 10_000 },
		);
		expect(await page.textContent('#page-info')).toBe('Page 1 of 2 · 13 tasks');
		expect(await page.locator('#tasks tr').count()).toBe(10);
		await page.click('#next');
		await page.waitForFunction(() =>
			(document.getElementById('page-info')?.textContent ?? '').startsWith('Page 2'),
		);
		expect(await page.locator('#tasks tr').count()).toBe(3);
		expect(await page.locator('#tasks td.name').allTextContents()).toEqual([XSS_NAME, 'Too long', 'First cut']);
		await page.click('#prev');
		await page.waitForFunction(() =>
			(document.getElementById('page-info')?.textContent ?? '').startsWith('Page 1'),
		);
		const page2 = await api<{ tasks: TaskView[]; total: number; offset: number }>('/api/tasks?offset=10&limit=10');
		expect(page2.body.total).toBe(13);
		// Newest first; a restarted task counts as new.
		expect(page2.body.tasks.map((t) => t.name)).toEqual([XSS_NAME, 'Too long', 'First cut']);
		expect((await api('/api/tasks?limit=0')).status).toBe(400);
		expect((await api('/api/tasks?offset=-1')).status).toBe(400);
		await app.scheduler.onIdle();
	});

	it('refuses path traversal and never serves a path from the request', async () => {
		const all = await api<{ tasks: TaskView[] }>('/api/tasks?limit=100');
		const firstId = all.body.tasks.find((t) => t.name === 'First cut')?.id ?? '';
		expect(firstId).not.toBe('');
		const attempts = [
			'/media/../../etc/passwd',
			'/media/input/../../../etc/passwd',
			'/media/input/..%2F..%2F..%2Fetc%2Fpasswd',
			'/media/output/%2e%2e%2f%2e%2e%2fetc%2fpasswd',
			'/media/input/%2e%2e/%2e%2e/etc/passwd',
			'/media/input/..%5C..%5Cetc%5Cpasswd',
			'/media/input/%252e%252e%252fetc%252fpasswd',
			`/media/input/${encodeURIComponent('/etc/passwd')}`,
			'/media/input/sample.mp4',
			'/media/input/leak.mp4',
			'/media/%2Fetc%2Fpasswd',
			'/../../../../etc/passwd',
			'/app.js/../../../etc/passwd',
			'//etc/passwd',
			`/media/output/${firstId}/../../../../etc/passwd`,
			`/media/output/${firstId}/..%2F..%2F..%2Fetc%2Fpasswd`,
			'/api/tasks/..%2F..%2Fetc%2Fpasswd',
			'/public/../server.ts',
			'/app.css%00.js',
		];
		for (const path of attempts) {
			const res = await rawRequest(app.url, path);
			expect.soft(res.status, path).toBeGreaterThanOrEqual(400);
			expect.soft(res.status, path).toBeLessThan(500);
			expect.soft(res.body, path).not.toContain('root:');
		}
		const inputs = await api<{ inputs: string[] }>('/api/inputs');
		expect(inputs.body.inputs).toEqual(['sample.mp4']);
		for (const input of [
			'../../../../etc/passwd',
			'/etc/passwd',
			'leak.mp4',
			'outputs/../../x.mp4',
			`outputs/sample_cut_0_2.mp4`,
		]) {
			const res = await postJson<{ field: string }>('/api/tasks', { name: 'sneaky', input, start: 0, end: 1 });
			expect.soft(res.status, input).toBe(400);
			expect.soft(res.body.field, input).toBe('input');
		}
		// A foreign page can neither reach the app under another host name nor change anything from another origin.
		expect((await rawRequest(app.url, '/api/tasks', { headers: { host: 'evil.example' } })).status).toBe(421);
		const crossSite = await rawRequest(app.url, `/api/tasks/${firstId}/restart`, {
			method: 'POST',
			headers: { origin: 'http://evil.example' },
		});
		expect(crossSite.status).toBe(403);
		const notJson = await rawRequest(app.url, '/api/tasks', {
			method: 'POST',
			headers: { 'content-type': 'text/plain' },
			body: '{}',
		});
		expect(notJson.status).toBe(415);
	});
});
