/**
 * One cut: an ffmpeg child process writing to a partial file in `outputs/`, renamed into place on success.
 * Reports progress from `-progress pipe:1`; stop and the per-job timeout kill ffmpeg (SIGKILL) and delete the
 * partial file.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, rename, rm } from 'node:fs/promises';
import { inMedia, OUTPUT_FOLDER } from './media.js';
import { ProgressParser } from './ffmpeg.js';

export type CutStatus = 'running' | 'succeeded' | 'failed';

/** What `GET /cuts/:id` answers. */
export interface CutView {
	readonly id: string;
	readonly status: CutStatus;
	/** From 0 to 1. */
	readonly progress: number;
	/** Why it failed (ffmpeg's last words, `stopped`, or a timeout). */
	readonly error?: string;
	/** The input file, relative to the media folder. */
	readonly input: string;
	readonly start: number;
	readonly end: number;
	/** Milliseconds since the epoch. */
	readonly createdAt: number;
	readonly finishedAt?: number;
}

export interface CutJobSettings {
	readonly id: string;
	readonly mediaDir: string;
	readonly ffmpegPath: string;
	/** The input, relative to the media folder, and its real absolute path. */
	readonly input: string;
	readonly inputPath: string;
	readonly start: number;
	readonly end: number;
	/** The output, relative to the media folder. */
	readonly output: string;
	readonly encoderArgs: readonly string[];
	readonly timeoutMs: number;
	/** Read the input at its own speed (`-re`), so a cut takes as long as it lasts. */
	readonly realtime: boolean;
}

const STDERR_KEEP = 4096;

export class CutJob {
	readonly settings: CutJobSettings;
	readonly createdAt = Date.now();
	#status: CutStatus = 'running';
	#progress = 0;
	#error: string | undefined;
	#finishedAt: number | undefined;
	#child: ChildProcess | undefined;
	#killReason: string | undefined;
	#stderr = '';
	#timer: ReturnType<typeof setTimeout> | undefined;
	/** Resolves once the job has ended and its files are in their final state. */
	readonly done: Promise<void>;

	constructor(settings: CutJobSettings) {
		this.settings = settings;
		this.done = this.#run().catch((error: unknown) => {
			this.#finish('failed', error instanceof Error ? error.message : String(error));
		});
	}

	get status(): CutStatus {
		return this.#status;
	}

	/** The output name relative to the media folder, once succeeded. */
	get output(): string | undefined {
		return this.#status === 'succeeded' ? this.settings.output : undefined;
	}

	view(): CutView {
		const { id, input, start, end } = this.settings;
		return {
			id,
			status: this.#status,
			progress: this.#progress,
			...(this.#error === undefined ? {} : { error: this.#error }),
			input,
			start,
			end,
			createdAt: this.createdAt,
			...(this.#finishedAt === undefined ? {} : { finishedAt: this.#finishedAt }),
		};
	}

	/** Kill ffmpeg (SIGKILL) and wait until the partial output is deleted. A finished job is left as it is. */
	async stop(reason = 'stopped'): Promise<void> {
		if (this.#status === 'running') {
			this.#killReason ??= reason;
			this.#child?.kill('SIGKILL');
		}
		await this.done;
	}

	get #partialPath(): string {
		return inMedia(this.settings.mediaDir, `${OUTPUT_FOLDER}/.${this.settings.id}.partial.mp4`);
	}

	async #run(): Promise<void> {
		const s = this.settings;
		await mkdir(inMedia(s.mediaDir, OUTPUT_FOLDER), { recursive: true });
		if (this.#killReason !== undefined) return this.#finish('failed', this.#killReason);
		const partial = this.#partialPath;
		const duration = s.end - s.start;
		const args = [
			'-hide_banner',
			'-nostdin',
			'-nostats',
			'-loglevel',
			'error',
			'-y',
			...(s.realtime ? ['-re'] : []),
			'-ss',
			String(s.start),
			'-i',
			s.inputPath,
			'-t',
			String(duration),
			...s.encoderArgs,
			'-progress',
			'pipe:1',
			partial,
		];
		const child = spawn(s.ffmpegPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
		this.#child = child;
		if (s.timeoutMs > 0) {
			this.#timer = setTimeout(() => {
				this.#killReason ??= `timed out after ${s.timeoutMs} ms`;
				child.kill('SIGKILL');
			}, s.timeoutMs);
		}
		const parser = new ProgressParser((seconds) => {
			const progress = Math.min(0.99, Math.max(0, seconds / duration));
			if (progress > this.#progress) this.#progress = Math.round(progress * 1000) / 1000;
		});
		child.stdout.setEncoding('utf8').on('data', (chunk: string) => parser.push(chunk));
		child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
			this.#stderr = (this.#stderr + chunk).slice(-STDERR_KEEP);
		});
		const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; spawnError?: Error }>(
			(resolve) => {
				child.once('error', (spawnError) => resolve({ code: null, signal: null, spawnError }));
				child.once('close', (code, signal) => resolve({ code, signal }));
			},
		);
		clearTimeout(this.#timer);
		this.#child = undefined;
		if (exit.code === 0 && this.#killReason === undefined) {
			await rename(partial, inMedia(s.mediaDir, s.output));
			this.#progress = 1;
			return this.#finish('succeeded');
		}
		await rm(partial, { force: true });
		if (this.#killReason !== undefined) return this.#finish('failed', this.#killReason);
		if (exit.spawnError)
			return this.#finish('failed', `could not run ffmpeg (${s.ffmpegPath}): ${exit.spawnError.message}`);
		const lastWords = this.#stderr.trim().split('\n').slice(-3).join(' | ');
		const how = exit.signal === null ? `exited with code ${String(exit.code)}` : `was killed by ${exit.signal}`;
		return this.#finish('failed', `ffmpeg ${how}${lastWords.length > 0 ? `: ${lastWords}` : ''}`);
	}

	#finish(status: CutStatus, error?: string): void {
		if (this.#status !== 'running') return;
		this.#status = status;
		if (error !== undefined) this.#error = error;
		this.#finishedAt = Date.now();
	}
}
