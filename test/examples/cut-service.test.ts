/**
 * The video-cut service with real ffmpeg, on a random loopback port, over a temp media folder holding a
 * generated sample video. Also drives it end to end through a Scheduler with the HttpActuator.
 */
import { mkdtemp, readdir, readFile, rm, symlink, writeFile, mkdir, stat } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Scheduler, type TaskRecord } from 'lightsched';
import { QueueContainer } from 'lightsched/containers/queue';
import { HttpActuator } from 'lightsched/actuators/http';
import {
	createCutService,
	findFfmpeg,
	probeDuration,
	type CutService,
	type CutView,
} from '../../examples/video-cut/service/server.js';
import { ensureSampleVideo } from '../../examples/video-cut/service/sample.js';

let mediaDir: string;
let ffmpegPath: string;
let fast: CutService;
let slow: CutService;

beforeAll(async () => {
	ffmpegPath = findFfmpeg();
	mediaDir = await mkdtemp(join(tmpdir(), 'lightsched-cut-'));
	expect(await ensureSampleVideo(mediaDir, { ffmpegPath })).toBe('sample.mp4');
	fast = createCutService({ mediaDir, ffmpegPath });
	// Reads at the video's own speed, so a cut lasts as long as the clip: progress and stop can be watched.
	slow = createCutService({ mediaDir, ffmpegPath, realtime: true });
	await fast.listen();
	await slow.listen();
});

afterAll(async () => {
	await fast?.close();
	await slow?.close();
	if (mediaDir) await rm(mediaDir, { recursive: true, force: true });
});

async function call(
	service: CutService,
	method: string,
	path: string,
	body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
	const init: RequestInit = { method };
	if (body !== undefined) init.body = typeof body === 'string' ? body : JSON.stringify(body);
	const response = await fetch(`${service.url ?? ''}${path}`, init);
	return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function startCut(service: CutService, body: unknown): Promise<string> {
	const answer = await call(service, 'POST', '/cuts', body);
	expect(answer.status).toBe(202);
	expect(answer.body.id).toMatch(/^cut-[0-9a-f]{12}$/);
	return answer.body.id as string;
}

/** Pids of running processes whose command line mentions `needle` (Linux /proc). */
async function processesMentioning(needle: string): Promise<number[]> {
	const pids: number[] = [];
	for (const entry of await readdir('/proc')) {
		if (!/^\d+$/.test(entry)) continue;
		try {
			const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8');
			if (cmdline.includes(needle)) pids.push(Number(entry));
		} catch {
			// The process ended meanwhile.
		}
	}
	return pids;
}

/** Poll the cut until it leaves `running`, collecting the progress seen on the way. */
async function waitForCut(service: CutService, id: string): Promise<{ view: CutView; progress: number[] }> {
	const progress: number[] = [];
	for (;;) {
		const { body } = await call(service, 'GET', `/cuts/${id}`);
		const view = body as unknown as CutView;
		progress.push(view.progress);
		if (view.status !== 'running') return { view, progress };
		await new Promise((resolve) => setTimeout(resolve, 100));
	}
}

describe('video-cut service', () => {
	it('makes a 30 s sample video once', async () => {
		const duration = await probeDuration(ffmpegPath, join(mediaDir, 'sample.mp4'));
		expect(duration).toBeGreaterThan(29.5);
		expect(duration).toBeLessThan(30.5);
		const before = (await stat(join(mediaDir, 'sample.mp4'))).mtimeMs;
		await ensureSampleVideo(mediaDir, { ffmpegPath });
		expect((await stat(join(mediaDir, 'sample.mp4'))).mtimeMs).toBe(before);
	});

	it('cuts a clip: the output exists in outputs/ and lasts about end - start', async () => {
		const id = await startCut(fast, { input: 'sample.mp4', start: 3, end: 8 });
		const { view } = await waitForCut(fast, id);
		expect(view).toMatchObject({ id, status: 'succeeded', progress: 1, input: 'sample.mp4', start: 3, end: 8 });
		const output = await call(fast, 'GET', `/cuts/${id}/output`);
		expect(output).toEqual({ status: 200, body: { id, output: 'outputs/sample_cut_3_8.mp4' } });
		const duration = await probeDuration(ffmpegPath, join(mediaDir, 'outputs', 'sample_cut_3_8.mp4'));
		expect(duration).toBeGreaterThan(4.8);
		expect(duration).toBeLessThan(5.3);
		expect((await readdir(join(mediaDir, 'outputs'))).filter((f) => f.includes('partial'))).toEqual([]);
	});

	it('reports progress between 0 and 1 while a cut runs', async () => {
		const id = await startCut(slow, { input: 'sample.mp4', start: 10, end: 13 });
		const { view, progress } = await waitForCut(slow, id);
		expect(view.status).toBe('succeeded');
		expect(progress.some((p) => p > 0 && p < 1)).toBe(true);
		for (let i = 1; i < progress.length; i++) expect(progress[i]).toBeGreaterThanOrEqual(progress[i - 1] as number);
	});

	it('stops a running cut: ffmpeg is killed and the partial output deleted', async () => {
		const id = await startCut(slow, { input: 'sample.mp4', start: 0, end: 25 });
		for (;;) {
			const { body } = await call(slow, 'GET', `/cuts/${id}`);
			if ((body.progress as number) > 0) break;
			await new Promise((resolve) => setTimeout(resolve, 50));
		}
		const partial = join(mediaDir, 'outputs', `.${id}.partial.mp4`);
		expect((await stat(partial)).isFile()).toBe(true);
		expect(await processesMentioning(partial)).toHaveLength(1);
		const stopped = await call(slow, 'POST', `/cuts/${id}/stop`);
		expect(stopped).toEqual({ status: 200, body: { id, status: 'failed' } });
		const { body } = await call(slow, 'GET', `/cuts/${id}`);
		expect(body).toMatchObject({ status: 'failed', error: 'stopped' });
		await expect(stat(partial)).rejects.toThrow(/ENOENT/);
		expect(await processesMentioning(partial)).toEqual([]);
		expect(await readdir(join(mediaDir, 'outputs'))).not.toContain('sample_cut_0_25.mp4');
		expect((await call(slow, 'GET', `/cuts/${id}/output`)).status).toBe(409);
	});

	it('kills a cut that runs past the per-job timeout', async () => {
		const timed = createCutService({ mediaDir, ffmpegPath, realtime: true, timeoutMs: 1000 });
		await timed.listen();
		try {
			const id = await startCut(timed, { input: 'sample.mp4', start: 0, end: 20 });
			const { view } = await waitForCut(timed, id);
			expect(view.status).toBe('failed');
			expect(view.error).toBe('timed out after 1000 ms');
			await expect(stat(join(mediaDir, 'outputs', `.${id}.partial.mp4`))).rejects.toThrow(/ENOENT/);
		} finally {
			await timed.close();
		}
	});

	it('refuses inputs outside the media folder, missing files and non-videos with a 4xx naming `input`', async () => {
		await symlink('/etc/passwd', join(mediaDir, 'escape.mp4'));
		await symlink('/etc', join(mediaDir, 'etc'));
		await writeFile(join(mediaDir, 'notes.mp4'), 'not a video');
		await mkdir(join(mediaDir, 'folder.mp4'));
		const cases: [unknown, RegExp][] = [
			['../../etc/passwd', /without `\.\.`/],
			['/etc/passwd', /not an absolute path/],
			[join(mediaDir, 'sample.mp4'), /not an absolute path/],
			['escape.mp4', /link that leads outside the media folder/],
			['etc/passwd', /link that leads outside the media folder/],
			['missing.mp4', /no file "missing.mp4" in the media folder/],
			['notes.mp4', /not a video ffmpeg can read/],
			['folder.mp4', /is not a file/],
			['', /expected a file name relative to the media folder/],
			[42, /expected a file name relative to the media folder, got 42/],
		];
		for (const [input, message] of cases) {
			const answer = await call(fast, 'POST', '/cuts', { input, start: 0, end: 1 });
			expect(answer.status, String(input)).toBe(400);
			expect(answer.body.field).toBe('input');
			expect(answer.body.error).toMatch(/^input: /);
			expect(answer.body.error).toMatch(message);
		}
	});

	it('refuses bad cut times with a 400 naming the field', async () => {
		const cases: [unknown, unknown, string, RegExp][] = [
			[-1, 5, 'start', /expected a number of seconds >= 0, got -1/],
			['abc', 5, 'start', /expected a number of seconds, got "abc"/],
			[0, undefined, 'end', /expected a number of seconds, got nothing/],
			[8, 3, 'end', /expected the end \(3\) to be after the start \(8\)/],
			[5, 5, 'end', /to be after the start/],
			[0, 31, 'end', /expected an end within the video \(30(\.\d+)? s\), got 31/],
			[40, 50, 'start', /expected a start before the end of the video/],
		];
		for (const [start, end, field, message] of cases) {
			const answer = await call(fast, 'POST', '/cuts', { input: 'sample.mp4', start, end });
			expect(answer.status, `${String(start)}..${String(end)}`).toBe(400);
			expect(answer.body.field).toBe(field);
			expect(answer.body.error).toMatch(message);
		}
		const notJson = await call(fast, 'POST', '/cuts', '{nope');
		expect(notJson.status).toBe(400);
		expect(notJson.body.field).toBe('body');
	});

	it('answers 404 for an unknown id or route, 405 for a wrong method', async () => {
		for (const path of ['/cuts/cut-000000000000', '/cuts/cut-000000000000/output']) {
			const answer = await call(fast, 'GET', path);
			expect(answer.status).toBe(404);
			expect(answer.body).toEqual({ error: 'id: no cut with id "cut-000000000000"', field: 'id' });
		}
		expect((await call(fast, 'POST', '/cuts/cut-000000000000/stop')).status).toBe(404);
		expect((await call(fast, 'GET', '/nothing')).status).toBe(404);
		expect((await call(fast, 'DELETE', '/cuts')).status).toBe(405);
	});

	it('runs from the command line: makes the sample, binds 127.0.0.1, stops on SIGTERM', async () => {
		const dir = join(mediaDir, 'cli-media');
		const main = fileURLToPath(new URL('../../examples/video-cut/service/main.ts', import.meta.url));
		const child = spawn(process.execPath, ['--import', 'tsx', main, '--port', '0', '--media', dir], {
			cwd: fileURLToPath(new URL('../..', import.meta.url)),
			env: { ...process.env, FFMPEG_PATH: ffmpegPath },
			stdio: ['ignore', 'pipe', 'pipe'],
		});
		try {
			let out = '';
			const url = await new Promise<string>((resolve, reject) => {
				child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
					out += chunk;
					const match = /cut service on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
					if (match?.[1] !== undefined) resolve(match[1]);
				});
				child.once('exit', (code) => reject(new Error(`main.ts exited with ${String(code)}: ${out}`)));
			});
			const answer = await fetch(`${url}/cuts`, {
				method: 'POST',
				body: JSON.stringify({ input: 'sample.mp4', start: 0, end: 1 }),
			});
			expect(answer.status).toBe(202);
			expect((await stat(join(dir, 'sample.mp4'))).size).toBeGreaterThan(0);
		} finally {
			const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
			child.kill('SIGTERM');
			expect(await exited).toBe(0);
		}
	});

	it('runs cuts as scheduler tasks through the HttpActuator', async () => {
		interface Cut {
			input: string;
			start: number;
			end: number;
		}
		const scheduler = new Scheduler<Cut, string>({
			container: new QueueContainer(),
			actuator: new HttpActuator<Cut, string>({
				baseUrl: fast.url ?? '',
				start: { path: '/cuts' },
				status: { path: (ref) => `/cuts/${ref}` },
				output: { path: (ref) => `/cuts/${ref}/output`, map: (body) => (body as { output: string }).output },
				stop: { path: (ref) => `/cuts/${ref}/stop` },
			}),
			concurrency: 2,
			pollIntervalMs: 100,
		});
		const finished: TaskRecord<Cut, string>[] = [];
		const stream = scheduler.finished();
		await scheduler.add([
			{ id: 'a', item: { input: 'sample.mp4', start: 0, end: 2 } },
			{ id: 'b', item: { input: 'sample.mp4', start: 2, end: 4 } },
			{ id: 'c', item: { input: '../secret.mp4', start: 0, end: 2 } },
		]);
		for await (const task of stream) {
			finished.push(task);
			if (finished.length === 3) break;
		}
		await scheduler.close();
		const byId = Object.fromEntries(finished.map((t) => [t.id, t]));
		expect(byId.a?.status).toBe('succeeded');
		expect(byId.a?.output).toBe('outputs/sample_cut_0_2.mp4');
		expect(byId.b?.output).toBe('outputs/sample_cut_2_4.mp4');
		expect(byId.c?.status).toBe('failed');
		expect(byId.c?.error?.message).toMatch(
			/POST http:\/\/127\.0\.0\.1:\d+\/cuts answered HTTP 400: "input: expected a file name inside the media folder, without `\.\.`/,
		);
	});
});
