/** The video-cut task: its item, its validation at the API, and the view of a task the page shows. */
import type { TaskRecord, TaskStatus } from 'lightsched';
import { HttpError } from './http-util.js';

/** What a cut task carries: the service cuts `input` (a file in the media folder) from `start` to `end` seconds. */
export interface CutItem {
	/** A label for people. */
	readonly name: string;
	/** The input video: a file name in the media folder. */
	readonly input: string;
	/** Seconds from the start of the input. */
	readonly start: number;
	readonly end: number;
}

/** A succeeded cut's output: the output file name, relative to the media folder. */
export type CutOutput = string;

export type CutTask = TaskRecord<CutItem, CutOutput>;

/** The longest accepted name, in characters. */
export const MAX_NAME_LENGTH = 200;
/** The latest accepted cut end, in seconds (a day). */
export const MAX_SECONDS = 24 * 60 * 60;

function describe(value: unknown): string {
	if (value === undefined) return 'nothing';
	const text = JSON.stringify(value) ?? String(value);
	return text.length > 60 ? `${text.slice(0, 60)}…` : text;
}

/**
 * Check a create request `{ name, input, start, end }` and return the item. `inputs` are the video files the
 * media folder offers. Throws an `HttpError` 400 naming the field at fault.
 */
export function parseCutRequest(body: unknown, inputs: readonly string[]): CutItem {
	if (typeof body !== 'object' || body === null || Array.isArray(body)) {
		throw new HttpError(
			400,
			`Expected the body to be an object like { name, input, start, end }, got ${describe(body)}`,
		);
	}
	const { name, input, start, end } = body as Record<string, unknown>;
	for (const key of Object.keys(body)) {
		if (!['name', 'input', 'start', 'end'].includes(key)) {
			throw new HttpError(
				400,
				`Unknown field \`${key.slice(0, 40)}\` (expected name, input, start, end)`,
				key.slice(0, 40),
			);
		}
	}
	const trimmed = typeof name === 'string' ? name.trim() : name;
	if (typeof trimmed !== 'string' || trimmed.length === 0 || trimmed.length > MAX_NAME_LENGTH) {
		throw new HttpError(
			400,
			`Expected \`name\` to be a non-empty string of at most ${MAX_NAME_LENGTH} characters, got ${describe(name)}`,
			'name',
		);
	}
	if (typeof input !== 'string' || !inputs.includes(input)) {
		const offered =
			inputs.length === 0 ? 'none is there' : `one of ${inputs.map((i) => JSON.stringify(i)).join(', ')}`;
		throw new HttpError(
			400,
			`Expected \`input\` to name a video file in the media folder (${offered}), got ${describe(input)}`,
			'input',
		);
	}
	if (typeof start !== 'number' || !Number.isFinite(start) || start < 0 || start >= MAX_SECONDS) {
		throw new HttpError(
			400,
			`Expected \`start\` to be a number of seconds from 0 to ${MAX_SECONDS}, got ${describe(start)}`,
			'start',
		);
	}
	if (typeof end !== 'number' || !Number.isFinite(end) || end <= start || end > MAX_SECONDS) {
		throw new HttpError(
			400,
			`Expected \`end\` to be a number of seconds greater than \`start\` (${start}) and at most ${MAX_SECONDS}, got ${describe(end)}`,
			'end',
		);
	}
	return { name: trimmed, input, start, end };
}

/** A task as the API hands it out: plain data, no server paths. */
export interface TaskView {
	readonly id: string;
	readonly name: string;
	readonly input: string;
	readonly start: number;
	readonly end: number;
	readonly status: TaskStatus;
	/** 0..1 while running (when the service reports it), else `null`. */
	readonly progress: number | null;
	readonly attempts: number;
	readonly maxAttempts: number;
	readonly createdAt: number;
	readonly startedAt: number | null;
	readonly finishedAt: number | null;
	/** Why the last attempt failed (kept across a retry until the task succeeds). */
	readonly error: { readonly message: string; readonly code: string } | null;
	/** The output file name once succeeded. */
	readonly output: string | null;
}

/** A progress report as a fraction 0..1: a number, or an object with a numeric `progress`. */
export function progressFraction(progress: unknown): number | null {
	let value = progress;
	if (typeof value === 'object' && value !== null && 'progress' in value)
		value = (value as { progress: unknown }).progress;
	if (typeof value !== 'number' || !Number.isFinite(value)) return null;
	return Math.min(1, Math.max(0, value));
}

export function toTaskView(task: CutTask): TaskView {
	const item = (typeof task.item === 'object' && task.item !== null ? task.item : {}) as Partial<CutItem>;
	return {
		id: task.id,
		name: typeof item.name === 'string' ? item.name : '',
		input: typeof item.input === 'string' ? item.input : '',
		start: typeof item.start === 'number' ? item.start : 0,
		end: typeof item.end === 'number' ? item.end : 0,
		status: task.status,
		progress:
			task.status === 'running' || task.status === 'exporting'
				? progressFraction(task.progress)
				: task.status === 'succeeded'
					? 1
					: null,
		attempts: task.attempts,
		maxAttempts: task.maxAttempts,
		createdAt: task.createdAt,
		startedAt: task.startedAt,
		finishedAt: task.finishedAt,
		error: task.error === null ? null : { message: task.error.message, code: task.error.code },
		output: typeof task.output === 'string' ? task.output : null,
	};
}
