/**
 * The video-cut workflow's derived media with real ffmpeg: a JPEG thumbnail and a GIF preview of a cut, a clear
 * error on bad input, and the service's /thumbnails and /previews jobs (the media jail, stop, unknown ids).
 */
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findFfmpeg } from '../../examples/video-cut/service/ffmpeg.js';
import { ensureSampleVideo } from '../../examples/video-cut/service/sample.js';
import { makePreview, makeThumbnail } from '../../examples/video-cut/service/derivatives.js';
import { createCutService, type CutService } from '../../examples/video-cut/service/server.js';

let dir: string;
let ffmpegPath: string;

beforeAll(async () => {
	dir = await mkdtemp(join(tmpdir(), 'video-cut-derivatives-'));
	ffmpegPath = findFfmpeg();
	await ensureSampleVideo(dir, { ffmpegPath });
}, 60_000);

afterAll(async () => {
	await rm(dir, { recursive: true, force: true });
});

describe('derived media of a cut', () => {
	it('makes a JPEG thumbnail', async () => {
		const out = join(dir, 'thumb.jpg');
		await makeThumbnail(ffmpegPath, join(dir, 'sample.mp4'), out, { atSeconds: 1 });
		const bytes = await readFile(out);
		expect(bytes.subarray(0, 3)).toEqual(Buffer.from([0xff, 0xd8, 0xff]));
	}, 30_000);

	it('makes a short GIF preview', async () => {
		const out = join(dir, 'preview.gif');
		await makePreview(ffmpegPath, join(dir, 'sample.mp4'), out, { seconds: 1 });
		const bytes = await readFile(out);
		expect(bytes.subarray(0, 4).toString('latin1')).toBe('GIF8');
	}, 30_000);

	it('fails with the ffmpeg error on a file that is not a video, leaving no partial file', async () => {
		await writeFile(join(dir, 'bad.mp4'), 'not a video');
		await expect(makeThumbnail(ffmpegPath, join(dir, 'bad.mp4'), join(dir, 'bad.jpg'))).rejects.toThrow(
			/ffmpeg exited with code/,
		);
		expect((await readdir(dir)).filter((name) => name.startsWith('bad.jpg'))).toEqual([]);
	}, 30_000);
});

describe('the service’s /thumbnails and /previews jobs', () => {
	let service: CutService;
	let url: string;

	beforeAll(async () => {
		service = createCutService({ mediaDir: dir, ffmpegPath });
		url = await service.listen();
	});

	afterAll(async () => {
		await service?.close();
	});

	const call = async (method: string, path: string, body?: unknown) => {
		const res = await fetch(`${url}${path}`, {
			method,
			...(body === undefined ? {} : { body: JSON.stringify(body) }),
		});
		return { status: res.status, body: (await res.json()) as Record<string, unknown> };
	};

	async function finished(path: string): Promise<Record<string, unknown>> {
		for (;;) {
			const { body } = await call('GET', path);
			if (body.status !== 'running') return body;
			await new Promise((resolve) => setTimeout(resolve, 50));
		}
	}

	it('makes a thumbnail and a preview of a video, named by the service', async () => {
		const thumb = await call('POST', '/thumbnails', { source: 'sample.mp4' });
		expect(thumb.status).toBe(202);
		expect(thumb.body.id).toMatch(/^thumb-[0-9a-f]{12}$/);
		const preview = await call('POST', '/previews', { source: 'sample.mp4', seconds: 1 });
		expect(preview.body.id).toMatch(/^preview-[0-9a-f]{12}$/);
		expect(await finished(`/thumbnails/${String(thumb.body.id)}`)).toMatchObject({
			status: 'succeeded',
			kind: 'thumbnail',
			progress: 1,
		});
		expect(await finished(`/previews/${String(preview.body.id)}`)).toMatchObject({ status: 'succeeded' });
		const output = await call('GET', `/thumbnails/${String(thumb.body.id)}/output`);
		expect(output.body.output).toBe('outputs/sample.thumb.jpg');
		expect((await readFile(join(dir, 'outputs', 'sample.thumb.jpg'))).subarray(0, 2)).toEqual(
			Buffer.from([0xff, 0xd8]),
		);
		expect((await call('GET', `/previews/${String(preview.body.id)}/output`)).body.output).toBe(
			'outputs/sample.preview.gif',
		);
		// An id of one kind is unknown to the other.
		expect((await call('GET', `/previews/${String(thumb.body.id)}`)).status).toBe(404);
	}, 30_000);

	it('refuses a source outside the media folder, a missing one, a non-video and bad numbers', async () => {
		for (const source of ['../../etc/passwd', '/etc/passwd', 'missing.mp4', 42, undefined]) {
			const res = await call('POST', '/thumbnails', { source });
			expect.soft(res.status, String(source)).toBe(400);
			expect.soft(res.body.field, String(source)).toBe('source');
		}
		expect((await call('POST', '/previews', { source: 'bad.mp4' })).body.field).toBe('source');
		expect((await call('POST', '/previews', { source: 'sample.mp4', seconds: 60 })).body.field).toBe('seconds');
		expect((await call('POST', '/thumbnails', { source: 'sample.mp4', at: -1 })).body.field).toBe('at');
		expect((await call('POST', '/thumbnails', 'x')).body.field).toBe('body');
		expect((await call('GET', '/thumbnails/thumb-000000000000')).status).toBe(404);
		expect((await call('DELETE', '/thumbnails')).status).toBe(405);
	}, 30_000);

	it('stops a running job: ffmpeg killed, no partial file left', async () => {
		// A 10 s preview of the 30 s sample takes a moment; stop it at once.
		const started = await call('POST', '/previews', { source: 'sample.mp4', seconds: 10, at: 5 });
		const stopped = await call('POST', `/previews/${String(started.body.id)}/stop`);
		expect(stopped.status).toBe(200);
		const view = await call('GET', `/previews/${String(started.body.id)}`);
		expect(view.body.status).toBe('failed');
		expect((await readdir(join(dir, 'outputs'))).filter((name) => name.endsWith('.part'))).toEqual([]);
	}, 30_000);
});
