/** The video-cut workflow's derived media with real ffmpeg: a JPEG thumbnail and a GIF preview of a cut, and a clear error on bad input. */
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findFfmpeg } from '../../examples/video-cut/service/ffmpeg.js';
import { ensureSampleVideo } from '../../examples/video-cut/service/sample.js';
import { makePreview, makeThumbnail } from '../../examples/video-cut/service/derivatives.js';

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
