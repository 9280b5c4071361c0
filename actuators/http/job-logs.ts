/**
 * A remote job's log lines, read from its status answers. Each status request of an attempt asks for the lines
 * from the first one not yet received (`logsFrom=<n>` in the query); the answer carries them as `logs` (an array of
 * strings), starting at line `logsFrom` of the job (the number asked for, when the answer does not say). Lines
 * already received are skipped, so a service may also answer the whole list every time with `logsFrom: 0`.
 */
import type { ActuatorContext, TaskRecord } from 'lightsched';
import { describeValue } from 'lightsched/kit';

/** Some of a job's log lines, as `status.logs` reads them from a status answer. */
export interface HttpJobLogs {
	/** The lines, oldest first. */
	readonly lines: readonly string[];
	/** The number of the first of them, counting the job's lines from 0. @default the `logsFrom` asked for */
	readonly from?: number;
}

/** The query parameter of a status request that says from which line on the answer should carry the job's log. */
export const LOGS_FROM_PARAM = 'logsFrom';

/** The default `status.logs`: `body.logs` (an array of strings, optional) and `body.logsFrom` (optional). */
export function defaultJobLogs(body: unknown): HttpJobLogs | undefined {
	if (body === null || typeof body !== 'object') return undefined;
	const { logs, logsFrom } = body as { logs?: unknown; logsFrom?: unknown };
	if (logs === undefined || logs === null) return undefined;
	if (!Array.isArray(logs) || !logs.every((line) => typeof line === 'string'))
		throw new TypeError(`Expected \`logs\` to be an array of strings, got ${describeValue(logs)}`);
	if (logsFrom === undefined || logsFrom === null) return { lines: logs as string[] };
	if (typeof logsFrom !== 'number' || !Number.isSafeInteger(logsFrom) || logsFrom < 0)
		throw new TypeError(`Expected \`logsFrom\` to be an integer >= 0, got ${describeValue(logsFrom)}`);
	return { lines: logs as string[], from: logsFrom };
}

/** One attempt's log reading: where its lines go and how many were received. */
export class JobLog {
	readonly attempt: number;
	readonly #ctx: ActuatorContext<unknown>;
	/** The number of the next line to ask for. */
	next = 0;

	constructor(attempt: number, ctx: ActuatorContext<unknown>) {
		this.attempt = attempt;
		this.#ctx = ctx;
	}

	/** The query asking for the lines from `next` on. */
	query(): string {
		return `${LOGS_FROM_PARAM}=${this.next}`;
	}

	/** Forward the new lines of `logs` (an answer to a request made with `asked` as `logsFrom`). */
	take(logs: HttpJobLogs | undefined, asked: number): void {
		if (logs === undefined) return;
		const from = logs.from ?? asked;
		const skip = Math.max(0, this.next - from);
		for (let i = skip; i < logs.lines.length; i++) this.#ctx.log?.(String(logs.lines[i]));
		this.next = Math.max(this.next, from + logs.lines.length);
	}
}

/** The `status.logs` option resolved: how to read lines from an answer, or `undefined` when off. */
export type JobLogsReader<TItem, TOutput> = (
	body: unknown,
	task: TaskRecord<TItem, TOutput>,
) => HttpJobLogs | undefined;
