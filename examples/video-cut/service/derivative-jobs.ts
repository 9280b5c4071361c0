/**
 * The service's derived-media jobs, behind the same four operations as the cuts: a JPEG thumbnail or a short GIF
 * preview made from a video in the media folder (the workflow demo makes them from a finished cut).
 *
 *   POST /thumbnails {source, at?}       → 202 {id}   (`thumb-` + 12 hex digits)
 *   POST /previews   {source, seconds?}  → 202 {id}   (`preview-` + 12 hex digits)
 *   GET  /thumbnails/:id, /previews/:id  → {id, kind, status, progress, error?, source, createdAt, finishedAt?}
 *   GET  …/:id/output                    → {id, output} (relative to the media folder); 409 until succeeded
 *   POST …/:id/stop                      → {id, status} (kills ffmpeg, deletes the partial file)
 *
 * `source` goes through the same media-folder jail as a cut's input; the output name is made by the service
 * (`outputs/<source name>.thumb.jpg`, `outputs/<source name>.preview.gif`), never taken from the request.
 */
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { makePreview, makeThumbnail } from './derivatives.js';
import { probeDuration } from './ffmpeg.js';
import { CutRequestError, inMedia, OUTPUT_FOLDER, resolveMediaFile } from './media.js';
import type { CutStatus } from './cut-job.js';

export type DerivativeKind = 'thumbnail' | 'preview';

/** The URL folder of each kind. */
export const DERIVATIVE_PATHS: Readonly<Record<string, DerivativeKind>> = {
	'/thumbnails': 'thumbnail',
	'/previews': 'preview',
};

const ID_PREFIX: Readonly<Record<DerivativeKind, string>> = { thumbnail: 'thumb', preview: 'preview' };
const SUFFIX: Readonly<Record<DerivativeKind, string>> = { thumbnail: '.thumb.jpg', preview: '.preview.gif' };
/** The longest preview accepted, in seconds. */
export const MAX_PREVIEW_SECONDS = 10;

/** What `GET /thumbnails/:id` and `GET /previews/:id` answer. */
export interface DerivativeView {
	readonly id: string;
	readonly kind: DerivativeKind;
	readonly status: CutStatus;
	/** 0 while running, 1 once succeeded. */
	readonly progress: number;
	readonly error?: string;
	/** The video it is made from, relative to the media folder. */
	readonly source: string;
	readonly createdAt: number;
	readonly finishedAt?: number;
}

/** The output name of a derivative: `outputs/<source name>.thumb.jpg` or `outputs/<source name>.preview.gif`. */
export function derivativeName(kind: DerivativeKind, source: string): string {
	const stem = basename(source, extname(source)).replace(/[^\w.-]+/g, '_') || 'video';
	return `${OUTPUT_FOLDER}/${stem}${SUFFIX[kind]}`;
}

function optionalSeconds(field: string, value: unknown, max: number): number | undefined {
	if (value === undefined) return undefined;
	if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > max)
		throw new CutRequestError(field, `expected a number of seconds from 0 to ${max}, got ${JSON.stringify(value)}`);
	return value;
}

/** One thumbnail or preview job: ffmpeg writing to `<output>.part`, renamed into place on success. */
export class DerivativeJob {
	readonly id: string;
	readonly kind: DerivativeKind;
	readonly source: string;
	readonly output: string;
	readonly createdAt = Date.now();
	readonly done: Promise<void>;
	#status: CutStatus = 'running';
	#error: string | undefined;
	#finishedAt: number | undefined;
	readonly #abort = new AbortController();

	constructor(settings: {
		kind: DerivativeKind;
		mediaDir: string;
		ffmpegPath: string;
		source: string;
		sourcePath: string;
		atSeconds?: number;
		seconds?: number;
		timeoutMs: number;
	}) {
		this.kind = settings.kind;
		this.id = `${ID_PREFIX[settings.kind]}-${randomBytes(6).toString('hex')}`;
		this.source = settings.source;
		this.output = derivativeName(settings.kind, settings.source);
		const path = inMedia(settings.mediaDir, this.output);
		const options = {
			...(settings.atSeconds === undefined ? {} : { atSeconds: settings.atSeconds }),
			...(settings.seconds === undefined ? {} : { seconds: settings.seconds }),
			...(settings.timeoutMs > 0 ? { timeoutMs: settings.timeoutMs } : {}),
			signal: this.#abort.signal,
		};
		this.done = mkdir(inMedia(settings.mediaDir, OUTPUT_FOLDER), { recursive: true })
			.then(() =>
				settings.kind === 'thumbnail'
					? makeThumbnail(settings.ffmpegPath, settings.sourcePath, path, options)
					: makePreview(settings.ffmpegPath, settings.sourcePath, path, options),
			)
			.then(
				() => this.#finish('succeeded'),
				(error: unknown) => this.#finish('failed', error instanceof Error ? error.message : String(error)),
			);
	}

	get status(): CutStatus {
		return this.#status;
	}

	view(): DerivativeView {
		return {
			id: this.id,
			kind: this.kind,
			status: this.#status,
			progress: this.#status === 'succeeded' ? 1 : 0,
			...(this.#error === undefined ? {} : { error: this.#error }),
			source: this.source,
			createdAt: this.createdAt,
			...(this.#finishedAt === undefined ? {} : { finishedAt: this.#finishedAt }),
		};
	}

	/** Kill ffmpeg and wait until the partial file is deleted. A finished job is left as it is. */
	async stop(reason = 'stopped'): Promise<void> {
		if (this.#status === 'running') this.#abort.abort(new Error(reason));
		await this.done;
	}

	#finish(status: CutStatus, error?: string): void {
		if (this.#status !== 'running') return;
		this.#status = status;
		if (error !== undefined) this.#error = error;
		this.#finishedAt = Date.now();
	}
}

/** The derived-media jobs of one service: creation (checked), lookup, the newest `keepFinished` finished ones kept. */
export class DerivativeJobs {
	readonly #jobs = new Map<string, DerivativeJob>();
	readonly #o: { mediaDir: string; ffmpegPath: string; timeoutMs: number; keepFinished: number };

	constructor(options: { mediaDir: string; ffmpegPath: string; timeoutMs: number; keepFinished: number }) {
		this.#o = options;
	}

	/** Check a `POST /thumbnails` or `POST /previews` body and start the job. */
	async create(kind: DerivativeKind, body: unknown): Promise<DerivativeJob> {
		if (body === null || typeof body !== 'object' || Array.isArray(body))
			throw new CutRequestError(
				'body',
				'expected a JSON object such as {"source": "outputs/sample_cut_0_2.mp4"}',
			);
		const { source, at, seconds } = body as { source?: unknown; at?: unknown; seconds?: unknown };
		const sourcePath = await resolveMediaFile(this.#o.mediaDir, source, 'source');
		const duration = await probeDuration(this.#o.ffmpegPath, sourcePath);
		if (duration === null)
			throw new CutRequestError('source', `${JSON.stringify(source)} is not a video ffmpeg can read`);
		const atSeconds = optionalSeconds('at', at, duration);
		const previewSeconds =
			kind === 'preview' ? optionalSeconds('seconds', seconds, MAX_PREVIEW_SECONDS) : undefined;
		const job = new DerivativeJob({
			kind,
			mediaDir: this.#o.mediaDir,
			ffmpegPath: this.#o.ffmpegPath,
			source: source as string,
			sourcePath,
			...(atSeconds === undefined ? {} : { atSeconds }),
			...(previewSeconds === undefined ? {} : { seconds: previewSeconds }),
			timeoutMs: this.#o.timeoutMs,
		});
		this.#jobs.set(job.id, job);
		void job.done.then(() => this.#forgetOldFinished());
		return job;
	}

	/** The job of this kind with this id, or a 404. */
	get(kind: DerivativeKind, id: string): DerivativeJob {
		const job = this.#jobs.get(id);
		if (job === undefined || job.kind !== kind)
			throw new CutRequestError('id', `no ${kind} job with id ${JSON.stringify(id)}`, 404);
		return job;
	}

	list(kind: DerivativeKind): DerivativeView[] {
		return [...this.#jobs.values()]
			.filter((job) => job.kind === kind)
			.map((job) => job.view())
			.reverse();
	}

	/** Stop every running job (the service is shutting down). */
	async stopAll(reason: string): Promise<void> {
		await Promise.all([...this.#jobs.values()].map((job) => job.stop(reason)));
	}

	#forgetOldFinished(): void {
		let finished = 0;
		for (const job of this.#jobs.values()) if (job.status !== 'running') finished++;
		for (const [id, job] of this.#jobs) {
			if (finished <= this.#o.keepFinished) break;
			if (job.status !== 'running') {
				this.#jobs.delete(id);
				finished--;
			}
		}
	}
}
