/**
 * How the CLI prints: human text by default (tables, relative times), JSON with `--json` (one document per
 * command; one line per event for `worker`), and a live status line on a terminal.
 */
import type { TaskCounts, TaskRecord } from 'lightsched';
import { TASK_STATUSES } from 'lightsched/kit';

/** Where output goes (the process's streams, or a test's). */
export interface Io {
	readonly out: NodeJS.WritableStream & { isTTY?: boolean };
	readonly err: NodeJS.WritableStream;
}

/** Print `value` as JSON, one document. */
export function printJson(io: Io, value: unknown): void {
	io.out.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** `1.2s ago`, `3m ago`, `in 5m`, for a time in milliseconds since the epoch. */
export function relativeTime(at: number | null, now = Date.now()): string {
	if (at === null) return '-';
	const ms = now - at;
	const abs = Math.abs(ms);
	const text =
		abs < 1000
			? `${abs}ms`
			: abs < 60_000
				? `${(abs / 1000).toFixed(1)}s`
				: abs < 3_600_000
					? `${Math.round(abs / 60_000)}m`
					: abs < 86_400_000
						? `${(abs / 3_600_000).toFixed(1)}h`
						: `${(abs / 86_400_000).toFixed(1)}d`;
	return ms >= 0 ? `${text} ago` : `in ${text}`;
}

/** Columns padded to their widest cell. */
export function table(rows: readonly (readonly string[])[]): string {
	const widths: number[] = [];
	for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
	return rows
		.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  '))
		.join('\n');
}

/** The counts as a two-column table, every status, and the total. */
export function countsText(counts: TaskCounts): string {
	const rows = TASK_STATUSES.map((status) => [status, String(counts[status])]);
	const total = TASK_STATUSES.reduce((sum, status) => sum + counts[status], 0);
	return table([...rows, ['total', String(total)]]);
}

/** One line per task: id, status, attempts, last change, error. */
export function listText(tasks: readonly TaskRecord[], total: number, offset: number): string {
	if (tasks.length === 0) return total === 0 ? 'No tasks.' : `No tasks at offset ${offset} (${total} in all).`;
	const rows = [['ID', 'STATUS', 'ATTEMPTS', 'UPDATED', 'ERROR']];
	for (const t of tasks)
		rows.push([
			t.id,
			t.status,
			`${t.attempts}/${t.maxAttempts}`,
			relativeTime(t.updatedAt),
			oneLine(t.error?.message ?? ''),
		]);
	return `${table(rows)}\n${offset + 1}-${offset + tasks.length} of ${total}`;
}

/** A task in full: its fields, then item, output, progress, error and ref as JSON. */
export function taskText(t: TaskRecord): string {
	const fields: [string, string][] = [
		['id', t.id],
		['status', t.status + (t.stopRequested ? ' (stop requested)' : '')],
		['attempts', `${t.attempts} of ${t.maxAttempts}`],
		['priority', String(t.priority)],
		['created', `${iso(t.createdAt)} (${relativeTime(t.createdAt)})`],
		['due', `${iso(t.runAt)} (${relativeTime(t.runAt)})`],
		['started', t.startedAt === null ? '-' : `${iso(t.startedAt)} (${relativeTime(t.startedAt)})`],
		['finished', t.finishedAt === null ? '-' : `${iso(t.finishedAt)} (${relativeTime(t.finishedAt)})`],
		['owner', t.owner ?? '-'],
		['timeout', t.timeoutMs === null ? '-' : `${t.timeoutMs} ms`],
	];
	const blocks: [string, unknown][] = [
		['item', t.item],
		['output', t.output],
		['progress', t.progress],
		['error', t.error],
		['ref', t.ref],
	];
	const head = table(fields.map(([k, v]) => [`${k}:`, v]));
	const body = blocks
		.filter(([, v]) => v !== null && v !== undefined)
		.map(([k, v]) => `${k}:\n${indent(JSON.stringify(v, null, 2) ?? String(v))}`)
		.join('\n');
	return body === '' ? head : `${head}\n${body}`;
}

/** A time as ISO 8601. */
export function iso(ms: number): string {
	return new Date(ms).toISOString();
}

/** Every line indented by two spaces. */
export function indent(text: string): string {
	return text
		.split('\n')
		.map((line) => `  ${line}`)
		.join('\n');
}

/** On one line, at most 60 characters. */
export function oneLine(text: string): string {
	const flat = text.replace(/\s+/g, ' ');
	return flat.length > 60 ? `${flat.slice(0, 59)}…` : flat;
}

/**
 * A status line redrawn in place on a terminal (at most every `everyMs`), nothing elsewhere; `done()` leaves the
 * last state on its own line.
 */
export class StatusLine {
	readonly #io: Io;
	readonly #render: () => string;
	readonly #timer: ReturnType<typeof setInterval> | undefined;

	constructor(io: Io, render: () => string, everyMs = 250) {
		this.#io = io;
		this.#render = render;
		if (io.out.isTTY === true) {
			this.#timer = setInterval(() => this.#draw(), everyMs);
			this.#timer.unref();
		}
	}

	#draw(): void {
		this.#io.out.write(`\r\u001b[2K${this.#render()}`);
	}

	done(): void {
		if (this.#timer === undefined) return;
		clearInterval(this.#timer);
		this.#draw();
		this.#io.out.write('\n');
	}
}
