/**
 * What a finished cut yields besides itself, for the workflow demo's two steps that depend on the cut: one frame as
 * a JPEG thumbnail, and a short low-resolution preview clip (GIF). Each writes to a temp name first and renames, so
 * a half-written file is never served.
 */
import { randomBytes } from 'node:crypto';
import { rename, rm } from 'node:fs/promises';
import { runFfmpeg } from './ffmpeg.js';

export interface DerivativeOptions {
	/** Where in the cut to take the frame or start the preview, in seconds (default 0). */
	readonly atSeconds?: number;
	/** Kill ffmpeg after this long (default 60 s). */
	readonly timeoutMs?: number;
	/** Kill ffmpeg (and delete the partial file) when this aborts. */
	readonly signal?: AbortSignal;
}

async function produce(
	ffmpegPath: string,
	args: readonly string[],
	output: string,
	options: DerivativeOptions,
): Promise<void> {
	// A name of its own per job: two jobs making the same output at once never write one file together.
	const partial = `${output}.${randomBytes(4).toString('hex')}.part`;
	let result: { code: number | null; stderr: string };
	try {
		result = await runFfmpeg(
			ffmpegPath,
			[...args, '-f', output.endsWith('.gif') ? 'gif' : 'image2', partial],
			options.timeoutMs ?? 60_000,
			options.signal,
		);
	} catch (error) {
		await rm(partial, { force: true });
		throw error;
	}
	const { code, stderr } = result;
	if (code !== 0) {
		await rm(partial, { force: true });
		const last = stderr.trim().split('\n').slice(-3).join(' | ');
		throw new Error(`ffmpeg exited with code ${String(code)} making ${output}: ${last}`);
	}
	await rename(partial, output);
}

/** One frame of `input` as a JPEG at `output` (at most 320 pixels wide). */
export async function makeThumbnail(
	ffmpegPath: string,
	input: string,
	output: string,
	options: DerivativeOptions = {},
): Promise<void> {
	const at = String(options.atSeconds ?? 0);
	await produce(
		ffmpegPath,
		[
			'-hide_banner',
			'-nostdin',
			'-y',
			'-ss',
			at,
			'-i',
			input,
			'-frames:v',
			'1',
			'-vf',
			'scale=320:-2',
			'-q:v',
			'4',
		],
		output,
		options,
	);
}

/** The first `seconds` (default 2) of `input` as a small GIF at `output` (160 pixels wide, 8 frames a second). */
export async function makePreview(
	ffmpegPath: string,
	input: string,
	output: string,
	options: DerivativeOptions & { readonly seconds?: number } = {},
): Promise<void> {
	const at = String(options.atSeconds ?? 0);
	const seconds = String(options.seconds ?? 2);
	await produce(
		ffmpegPath,
		['-hide_banner', '-nostdin', '-y', '-ss', at, '-t', seconds, '-i', input, '-an', '-vf', 'fps=8,scale=160:-2'],
		output,
		options,
	);
}
