/**
 * The media folder jail: every file the service reads or writes is inside it. A name is relative to the
 * folder; absolute paths, `..` segments and symlinks that lead outside are refused.
 */
import { realpath, stat } from 'node:fs/promises';
import { basename, extname, isAbsolute, join, relative, resolve, sep } from 'node:path';

/** A request the service refuses; `field` names the part of the request at fault. Sent as `{ error, field }`. */
export class CutRequestError extends Error {
	override name = 'CutRequestError';
	readonly status: number;
	readonly field: string;

	constructor(field: string, message: string, status = 400) {
		super(`${field}: ${message}`);
		this.field = field;
		this.status = status;
	}
}

/** The subfolder of the media folder that receives the cuts. */
export const OUTPUT_FOLDER = 'outputs';

function within(root: string, path: string): boolean {
	const rel = relative(root, path);
	return rel.length > 0 && !rel.startsWith('..') && !isAbsolute(rel);
}

/**
 * The real absolute path of the existing regular file `name` inside `mediaDir`, or a `CutRequestError` for
 * `field` when `name` is not a plain relative name, leads outside the folder (also through a symlink), or
 * names no file.
 */
export async function resolveMediaFile(mediaDir: string, name: unknown, field = 'input'): Promise<string> {
	if (typeof name !== 'string' || name.trim().length === 0) {
		throw new CutRequestError(
			field,
			`expected a file name relative to the media folder, got ${name === undefined ? 'nothing' : JSON.stringify(name)}`,
		);
	}
	if (name.includes('\0')) throw new CutRequestError(field, 'expected a file name without NUL characters');
	if (isAbsolute(name) || /^[A-Za-z]:[\\/]/.test(name) || name.startsWith('\\')) {
		throw new CutRequestError(
			field,
			`expected a file name relative to the media folder, not an absolute path (${JSON.stringify(name)})`,
		);
	}
	if (name.split(/[\\/]/).includes('..')) {
		throw new CutRequestError(
			field,
			`expected a file name inside the media folder, without \`..\` (${JSON.stringify(name)})`,
		);
	}
	const root = await realpath(mediaDir);
	const joined = resolve(root, name);
	if (!within(root, joined))
		throw new CutRequestError(field, `expected a file name inside the media folder (${JSON.stringify(name)})`);
	let real: string;
	try {
		real = await realpath(joined);
	} catch {
		throw new CutRequestError(field, `no file ${JSON.stringify(name)} in the media folder`);
	}
	if (!within(root, real))
		throw new CutRequestError(field, `${JSON.stringify(name)} is a link that leads outside the media folder`);
	const info = await stat(real);
	if (!info.isFile()) throw new CutRequestError(field, `${JSON.stringify(name)} is not a file`);
	return real;
}

/** A cut time as written in a file name: `12`, `1.5` (at most 3 decimals). */
function formatTime(seconds: number): string {
	return String(Math.round(seconds * 1000) / 1000);
}

/** The output name for a cut, relative to the media folder: `outputs/<name>_cut_<start>_<end>.mp4`. */
export function outputName(input: string, start: number, end: number): string {
	const stem = basename(input, extname(input)).replace(/[^\w.-]+/g, '_') || 'video';
	return `${OUTPUT_FOLDER}/${stem}_cut_${formatTime(start)}_${formatTime(end)}.mp4`;
}

/** The absolute path of a name relative to the media folder (the name must already be safe). */
export function inMedia(mediaDir: string, name: string): string {
	return join(mediaDir, ...name.split('/'));
}

/** The times of a cut, checked: numbers of seconds, `0 <= start < end <= duration`. */
export function checkTimes(start: unknown, end: unknown, duration: number | null): { start: number; end: number } {
	for (const [field, value] of [
		['start', start],
		['end', end],
	] as const) {
		if (typeof value !== 'number' || !Number.isFinite(value)) {
			throw new CutRequestError(
				field,
				`expected a number of seconds, got ${value === undefined ? 'nothing' : JSON.stringify(value)}`,
			);
		}
		if (value < 0) throw new CutRequestError(field, `expected a number of seconds >= 0, got ${value}`);
	}
	const s = start as number;
	const e = end as number;
	if (e <= s) throw new CutRequestError('end', `expected the end (${e}) to be after the start (${s})`);
	if (duration !== null) {
		// ffmpeg rounds the printed duration to 1/100 s.
		if (s >= duration)
			throw new CutRequestError(
				'start',
				`expected a start before the end of the video (${duration} s), got ${s}`,
			);
		if (e > duration + 0.01)
			throw new CutRequestError('end', `expected an end within the video (${duration} s), got ${e}`);
	}
	return { start: s, end: e };
}

/** Make sure `name` (a media-relative path produced by the service) stays in the folder; used for outputs. */
export function assertInside(mediaDir: string, path: string): void {
	if (!within(resolve(mediaDir), resolve(path)))
		throw new Error(`refusing to touch ${path}: outside ${mediaDir}${sep}`);
}
