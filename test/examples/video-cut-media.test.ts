/** The video-cut app's media folder rules: byte ranges, and names that must never resolve outside the folder. */
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IMAGE_TYPES, listVideoFiles, parseRange, resolveMediaFile } from '../../examples/video-cut/app/media.js';
import { parseCutRequest } from '../../examples/video-cut/app/cut-task.js';
import { HttpError } from '../../examples/video-cut/app/http-util.js';

describe('parseRange', () => {
	it('reads one byte range, open-ended and suffix ranges', () => {
		expect(parseRange(undefined, 1000)).toBeNull();
		expect(parseRange('bytes=0-99', 1000)).toEqual({ start: 0, end: 99 });
		expect(parseRange('bytes=900-', 1000)).toEqual({ start: 900, end: 999 });
		expect(parseRange('bytes=900-5000', 1000)).toEqual({ start: 900, end: 999 });
		expect(parseRange('bytes=-100', 1000)).toEqual({ start: 900, end: 999 });
		expect(parseRange('bytes=-5000', 1000)).toEqual({ start: 0, end: 999 });
	});

	it('says what cannot be satisfied, and ignores what it does not support', () => {
		expect(parseRange('bytes=1000-', 1000)).toBe('unsatisfiable');
		expect(parseRange('bytes=50-10', 1000)).toBe('unsatisfiable');
		expect(parseRange('bytes=-0', 1000)).toBe('unsatisfiable');
		expect(parseRange('bytes=-', 1000)).toBe('unsatisfiable');
		expect(parseRange('bytes=0-1,5-9', 1000)).toBeNull();
		expect(parseRange('items=0-1', 1000)).toBeNull();
	});
});

describe('the media folder', () => {
	let root: string;
	let media: string;

	beforeAll(async () => {
		root = await mkdtemp(join(tmpdir(), 'video-cut-media-'));
		media = join(root, 'media');
		await mkdir(join(media, 'outputs'), { recursive: true });
		await writeFile(join(media, 'a.mp4'), 'video');
		await writeFile(join(media, 'outputs', 'a_cut_0_1.mp4'), 'video');
		await writeFile(join(media, 'outputs', 'a_cut_0_1.thumb.jpg'), 'jpeg');
		await writeFile(join(media, 'outputs', 'a_cut_0_1.preview.gif'), 'gif');
		await symlink('/etc/passwd', join(media, 'outputs', 'passwd.gif'));
		await symlink(join(media, 'notes.txt'), join(media, 'outputs', 'notes.jpg'));
		await writeFile(join(media, 'notes.txt'), 'text');
		await writeFile(join(media, '.hidden.mp4'), 'video');
		await writeFile(join(root, 'outside.mp4'), 'secret');
		await symlink(join(root, 'outside.mp4'), join(media, 'link.mp4'));
		await symlink('/etc/passwd', join(media, 'passwd.mp4'));
	});

	afterAll(async () => {
		await rm(root, { recursive: true, force: true });
	});

	it('offers only regular video files directly in the folder', async () => {
		expect(await listVideoFiles(media)).toEqual(['a.mp4']);
	});

	it('resolves names inside the folder and nothing else', async () => {
		expect(await resolveMediaFile(media, 'a.mp4')).toMatch(/media\/a\.mp4$/);
		expect(await resolveMediaFile(media, 'outputs/a_cut_0_1.mp4')).toMatch(/outputs\/a_cut_0_1\.mp4$/);
		for (const name of [
			'../outside.mp4',
			'/etc/passwd',
			'link.mp4',
			'passwd.mp4',
			'notes.txt',
			'outputs',
			'missing.mp4',
			'a.mp4\0',
			'',
			'outputs/../../outside.mp4',
			join(root, 'outside.mp4'),
			42,
			null,
		]) {
			expect(await resolveMediaFile(media, name), String(name)).toBeNull();
		}
	});

	it('serves the workflow’s images only when asked for image types, by the same rules', async () => {
		// The default (videos) never resolves an image, nor an image table a video.
		expect(await resolveMediaFile(media, 'outputs/a_cut_0_1.thumb.jpg')).toBeNull();
		expect(await resolveMediaFile(media, 'a.mp4', IMAGE_TYPES)).toBeNull();
		expect(await resolveMediaFile(media, 'outputs/a_cut_0_1.thumb.jpg', IMAGE_TYPES)).toMatch(/\.thumb\.jpg$/);
		const gifOnly = { '.gif': 'image/gif' };
		expect(await resolveMediaFile(media, 'outputs/a_cut_0_1.preview.gif', gifOnly)).toMatch(/\.preview\.gif$/);
		expect(await resolveMediaFile(media, 'outputs/a_cut_0_1.thumb.jpg', gifOnly)).toBeNull();
		for (const name of [
			'outputs/passwd.gif',
			// A link inside the folder to a file of another type: the real path's type counts too.
			'outputs/notes.jpg',
			'../outside.mp4',
			'outputs/../../x.gif',
			'/etc/passwd.gif',
		]) {
			expect(await resolveMediaFile(media, name, IMAGE_TYPES), name).toBeNull();
		}
	});

	it('validates a create request field by field', () => {
		const inputs = ['a.mp4'];
		expect(parseCutRequest({ name: ' x ', input: 'a.mp4', start: 0, end: 1.5 }, inputs)).toEqual({
			name: 'x',
			input: 'a.mp4',
			start: 0,
			end: 1.5,
		});
		const fieldOf = (body: unknown): string | undefined => {
			try {
				parseCutRequest(body, inputs);
			} catch (error) {
				expect(error).toBeInstanceOf(HttpError);
				expect((error as HttpError).status).toBe(400);
				return (error as HttpError).field ?? 'body';
			}
			return undefined;
		};
		expect(fieldOf(null)).toBe('body');
		expect(fieldOf([])).toBe('body');
		expect(fieldOf({ name: '', input: 'a.mp4', start: 0, end: 1 })).toBe('name');
		expect(fieldOf({ name: 'x'.repeat(201), input: 'a.mp4', start: 0, end: 1 })).toBe('name');
		expect(fieldOf({ name: 'x', input: '../a.mp4', start: 0, end: 1 })).toBe('input');
		expect(fieldOf({ name: 'x', input: 'a.mp4', start: '0', end: 1 })).toBe('start');
		expect(fieldOf({ name: 'x', input: 'a.mp4', start: -1, end: 1 })).toBe('start');
		expect(fieldOf({ name: 'x', input: 'a.mp4', start: 2, end: 2 })).toBe('end');
		expect(fieldOf({ name: 'x', input: 'a.mp4', start: 0, end: Number.NaN })).toBe('end');
		expect(fieldOf({ name: 'x', input: 'a.mp4', start: 0, end: 1, path: '/etc' })).toBe('path');
	});
});
