/**
 * Finding and asking ffmpeg: where the binary is, how long a video lasts (from `ffmpeg -i`'s `Duration:`
 * line, since ffprobe may be missing), which encoders it has, and the progress lines of `-progress pipe:1`.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, join } from 'node:path';

function executable(path: string): boolean {
	try {
		accessSync(path, constants.X_OK);
		return true;
	} catch {
		return false;
	}
}

/**
 * The ffmpeg binary to run: `$FFMPEG_PATH` when set, else a system `ffmpeg` on the `PATH`, else the one the
 * `@ffmpeg-installer/ffmpeg` npm package ships. Throws an error saying how to get one when there is none.
 */
export function findFfmpeg(): string {
	const fromEnv = process.env.FFMPEG_PATH;
	if (fromEnv !== undefined && fromEnv.length > 0) {
		if (executable(fromEnv)) return fromEnv;
		throw new Error(`FFMPEG_PATH is set to ${JSON.stringify(fromEnv)}, which is not an executable file`);
	}
	for (const dir of (process.env.PATH ?? '').split(delimiter)) {
		if (dir.length === 0) continue;
		const candidate = join(dir, 'ffmpeg');
		if (executable(candidate)) return candidate;
	}
	try {
		const require = createRequire(import.meta.url);
		const installer = require('@ffmpeg-installer/ffmpeg') as { path?: unknown };
		if (typeof installer.path === 'string' && executable(installer.path)) return installer.path;
	} catch {
		// Not installed: fall through to the error below.
	}
	throw new Error(
		'No ffmpeg found: install it (`apt-get install -y ffmpeg`, or `npm install @ffmpeg-installer/ffmpeg`) or set FFMPEG_PATH',
	);
}

/**
 * Run ffmpeg with `args`; resolves with its exit code and stderr, whatever the code. `signal` kills it
 * (SIGKILL) and rejects with the signal's reason.
 */
export function runFfmpeg(
	ffmpegPath: string,
	args: readonly string[],
	timeoutMs: number,
	signal?: AbortSignal,
): Promise<{ code: number | null; stderr: string; stdout: string }> {
	return new Promise((resolve, reject) => {
		execFile(
			ffmpegPath,
			args,
			{ timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, killSignal: 'SIGKILL', ...(signal ? { signal } : {}) },
			(error, stdout, stderr) => {
				if (signal?.aborted) {
					reject(signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason)));
					return;
				}
				if (error && typeof (error as { code?: unknown }).code === 'string') {
					reject(new Error(`Could not run ${ffmpegPath}: ${error.message}`, { cause: error }));
					return;
				}
				resolve({ code: error ? ((error as { code?: number | null }).code ?? null) : 0, stdout, stderr });
			},
		);
	});
}

/** Parse `HH:MM:SS.xx` into seconds, or `null`. */
export function parseClock(text: string): number | null {
	const match = /^(\d+):(\d{2}):(\d{2}(?:\.\d+)?)$/.exec(text.trim());
	if (!match) return null;
	return Number(match[1]) * 3600 + Number(match[2]) * 60 + Number(match[3]);
}

/**
 * How long the video at `file` lasts, in seconds, from the `Duration:` line `ffmpeg -i` prints.
 * Resolves `null` when ffmpeg cannot read the file as a media file or reports no duration.
 */
export async function probeDuration(ffmpegPath: string, file: string): Promise<number | null> {
	const { stderr } = await runFfmpeg(ffmpegPath, ['-hide_banner', '-nostdin', '-i', file], 30_000);
	const match = /Duration:\s*(\d+:\d{2}:\d{2}(?:\.\d+)?)/.exec(stderr);
	return match?.[1] === undefined ? null : parseClock(match[1]);
}

const encoderCache = new Map<string, Promise<Set<string>>>();

/** The encoder names this ffmpeg offers (cached per binary). */
export function listEncoders(ffmpegPath: string): Promise<Set<string>> {
	let cached = encoderCache.get(ffmpegPath);
	if (cached === undefined) {
		cached = runFfmpeg(ffmpegPath, ['-hide_banner', '-encoders'], 30_000).then(({ stdout }) => {
			const names = new Set<string>();
			for (const line of stdout.split('\n')) {
				const match = /^\s*[VAS][.A-Z]{5}\s+(\S+)/.exec(line);
				if (match?.[1] !== undefined) names.add(match[1]);
			}
			return names;
		});
		encoderCache.set(ffmpegPath, cached);
	}
	return cached;
}

/** The video and audio encoder arguments: H.264 + AAC when available, else MPEG-4 part 2 + AAC (or no audio codec choice). */
export async function encoderArgs(ffmpegPath: string): Promise<string[]> {
	const encoders = await listEncoders(ffmpegPath);
	const video = encoders.has('libx264')
		? ['-c:v', 'libx264', '-preset', 'veryfast', '-crf', '30', '-pix_fmt', 'yuv420p']
		: ['-c:v', 'mpeg4', '-q:v', '5'];
	const audio = encoders.has('aac') ? ['-c:a', 'aac'] : [];
	return [...video, ...audio];
}

/**
 * Reads the `key=value` blocks ffmpeg writes with `-progress pipe:1` and reports the output time reached, in
 * seconds, at the end of each block.
 */
export class ProgressParser {
	#buffer = '';
	#seconds: number | null = null;
	readonly #onTime: (seconds: number) => void;

	constructor(onTime: (seconds: number) => void) {
		this.#onTime = onTime;
	}

	push(chunk: string): void {
		this.#buffer += chunk;
		let newline = this.#buffer.indexOf('\n');
		while (newline !== -1) {
			this.#line(this.#buffer.slice(0, newline).trim());
			this.#buffer = this.#buffer.slice(newline + 1);
			newline = this.#buffer.indexOf('\n');
		}
	}

	#line(line: string): void {
		const eq = line.indexOf('=');
		if (eq === -1) return;
		const key = line.slice(0, eq);
		const value = line.slice(eq + 1);
		// `out_time_ms` is in microseconds too (a long-standing ffmpeg quirk).
		if ((key === 'out_time_us' || key === 'out_time_ms') && /^\d+$/.test(value))
			this.#seconds = Number(value) / 1e6;
		else if (key === 'out_time' && this.#seconds === null) this.#seconds = parseClock(value);
		else if (key === 'progress') {
			if (this.#seconds !== null) this.#onTime(this.#seconds);
			this.#seconds = null;
		}
	}
}
