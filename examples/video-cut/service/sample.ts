/**
 * A sample video made on the spot with ffmpeg's lavfi test sources (a test pattern and a sine tone), so the
 * demo needs no download.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { encoderArgs, findFfmpeg } from './ffmpeg.js';

export interface SampleVideoOptions {
	/**
	 * The file name inside the media folder.
	 * @default 'sample.mp4'
	 */
	readonly name?: string;
	/**
	 * Its length in seconds.
	 * @default 30
	 */
	readonly durationS?: number;
	/**
	 * The ffmpeg binary.
	 * @default findFfmpeg()
	 */
	readonly ffmpegPath?: string;
}

async function exists(path: string): Promise<boolean> {
	try {
		return (await stat(path)).size > 0;
	} catch {
		return false;
	}
}

/**
 * Make `<mediaDir>/sample.mp4` (320x240, 25 fps, with a 440 Hz tone; H.264 when available, else MPEG-4) unless
 * it exists. Resolves with its name relative to the media folder. Safe to call concurrently.
 */
export async function ensureSampleVideo(mediaDir: string, options: SampleVideoOptions = {}): Promise<string> {
	const name = options.name ?? 'sample.mp4';
	const durationS = options.durationS ?? 30;
	if (!/^[\w.-]+\.mp4$/.test(name))
		throw new TypeError(`Expected \`name\` to be a plain .mp4 file name, got ${JSON.stringify(name)}`);
	if (!(Number.isFinite(durationS) && durationS > 0 && durationS <= 3600))
		throw new TypeError(`Expected \`durationS\` to be a number of seconds in (0, 3600], got ${String(durationS)}`);
	const target = join(mediaDir, name);
	if (await exists(target)) return name;
	await mkdir(mediaDir, { recursive: true });
	const ffmpegPath = options.ffmpegPath ?? findFfmpeg();
	const partial = join(mediaDir, `.${name}.${randomBytes(4).toString('hex')}.partial.mp4`);
	const args = [
		'-hide_banner',
		'-nostdin',
		'-loglevel',
		'error',
		'-y',
		'-f',
		'lavfi',
		'-i',
		`testsrc=duration=${durationS}:size=320x240:rate=25`,
		'-f',
		'lavfi',
		'-i',
		`sine=frequency=440:sample_rate=44100:duration=${durationS}`,
		...(await encoderArgs(ffmpegPath)),
		'-shortest',
		partial,
	];
	try {
		await new Promise<void>((resolve, reject) => {
			execFile(ffmpegPath, args, { timeout: 120_000, killSignal: 'SIGKILL' }, (error, _stdout, stderr) => {
				if (error)
					reject(
						new Error(`ffmpeg could not make the sample video: ${stderr.trim() || error.message}`, {
							cause: error,
						}),
					);
				else resolve();
			});
		});
		await rename(partial, target);
	} finally {
		await rm(partial, { force: true });
	}
	return name;
}
