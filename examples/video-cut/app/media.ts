/**
 * The media folder: which videos it offers, how a stored file name is resolved inside it (never outside, symlinks
 * included), and how a file is sent with HTTP Range support so a `<video>` element can seek. Besides videos, the
 * workflow's derived images (a `.jpg` thumbnail, a `.gif` preview) are served, by the same rules.
 */
import { createReadStream } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, isAbsolute, relative, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';

/** The video types served, by file extension. */
export const VIDEO_TYPES: Readonly<Record<string, string>> = {
	'.mp4': 'video/mp4',
	'.m4v': 'video/mp4',
	'.mov': 'video/quicktime',
	'.webm': 'video/webm',
	'.mkv': 'video/x-matroska',
};

/** The image types served (the workflow's thumbnail and preview), by file extension. */
export const IMAGE_TYPES: Readonly<Record<string, string>> = {
	'.jpg': 'image/jpeg',
	'.gif': 'image/gif',
};

/** Every type served, by file extension. */
const MEDIA_TYPES: Readonly<Record<string, string>> = { ...VIDEO_TYPES, ...IMAGE_TYPES };

export function isVideoName(name: string): boolean {
	return Object.hasOwn(VIDEO_TYPES, extname(name).toLowerCase());
}

function hasType(name: string, types: Readonly<Record<string, string>>): boolean {
	return Object.hasOwn(types, extname(name).toLowerCase());
}

/** The video files directly in `mediaDir` (not in sub-folders, no hidden files), sorted by name. */
export async function listVideoFiles(mediaDir: string): Promise<string[]> {
	const entries = await readdir(mediaDir, { withFileTypes: true });
	return entries
		.filter((entry) => entry.isFile() && !entry.name.startsWith('.') && isVideoName(entry.name))
		.map((entry) => entry.name)
		.sort((a, b) => a.localeCompare(b));
}

function isInside(root: string, path: string): boolean {
	const rel = relative(root, path);
	return rel !== '' && !isAbsolute(rel) && rel.split(sep)[0] !== '..';
}

/**
 * The real path of the file `name` (relative to `mediaDir`), or `null` when the name is not a relative path of a
 * file of one of `types` (by extension, checked on the name and on the real path: default the video types),
 * leaves the folder (by `..` or a symlink), or does not exist as a regular file.
 */
export async function resolveMediaFile(
	mediaDir: string,
	name: unknown,
	types: Readonly<Record<string, string>> = VIDEO_TYPES,
): Promise<string | null> {
	if (typeof name !== 'string' || name.length === 0 || name.length > 1024 || name.includes('\0') || isAbsolute(name))
		return null;
	if (!hasType(name, types)) return null;
	let root: string;
	try {
		root = await realpath(mediaDir);
	} catch {
		return null;
	}
	const candidate = resolve(root, name);
	if (!isInside(root, candidate)) return null;
	let real: string;
	try {
		real = await realpath(candidate);
		if (!isInside(root, real) || !hasType(real, types) || !(await stat(real)).isFile()) return null;
	} catch {
		return null;
	}
	return real;
}

/** A byte range `[start, end]` (inclusive), `null` for the whole file, or `'unsatisfiable'`. */
export function parseRange(
	header: string | undefined,
	size: number,
): { start: number; end: number } | null | 'unsatisfiable' {
	if (header === undefined) return null;
	const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
	// Several ranges, or another unit: serve the whole file (a server may ignore Range).
	if (match === null) return null;
	const [, from = '', to = ''] = match;
	if (from === '' && to === '') return 'unsatisfiable';
	if (from === '') {
		const suffix = Number(to);
		if (suffix === 0 || size === 0) return 'unsatisfiable';
		return { start: Math.max(0, size - suffix), end: size - 1 };
	}
	const start = Number(from);
	const end = to === '' ? size - 1 : Math.min(Number(to), size - 1);
	if (start >= size || end < start) return 'unsatisfiable';
	return { start, end };
}

/** Send a media file (GET or HEAD), honouring a single `Range`; its type by extension (a video, a JPEG or a GIF). */
export async function sendVideo(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
	const info = await stat(path);
	const size = info.size;
	const type = MEDIA_TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream';
	const headers: Record<string, string | number> = {
		'content-type': type,
		'accept-ranges': 'bytes',
		'x-content-type-options': 'nosniff',
		'cache-control': 'no-cache',
		'last-modified': info.mtime.toUTCString(),
	};
	const range = parseRange(req.headers.range, size);
	if (range === 'unsatisfiable') {
		res.writeHead(416, { ...headers, 'content-range': `bytes */${size}`, 'content-length': 0 });
		res.end();
		return;
	}
	const start = range?.start ?? 0;
	const end = range?.end ?? size - 1;
	const length = size === 0 ? 0 : end - start + 1;
	if (range !== null) headers['content-range'] = `bytes ${start}-${end}/${size}`;
	headers['content-length'] = length;
	res.writeHead(range === null ? 200 : 206, headers);
	if (req.method === 'HEAD' || length === 0) {
		res.end();
		return;
	}
	try {
		await pipeline(createReadStream(path, { start, end }), res);
	} catch {
		// The player closed the connection (it often does while seeking): nothing to answer.
		res.destroy();
	}
}
