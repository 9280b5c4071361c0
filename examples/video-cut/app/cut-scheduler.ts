/**
 * The video-cut scheduler, put together from the kit's parts: tasks in memory for speed and in SQLite for
 * restarts (`CombinedContainer(QueueContainer, SqlContainer)`), cuts run by the ffmpeg service through the
 * `HttpActuator`, output file names stored by the `SqlPersistencer`.
 */
import { join } from 'node:path';
import {
	ActuatorError,
	NonRetryableError,
	Scheduler,
	type ActuatorContext,
	type ActuatorStart,
	type TaskRecord,
} from 'lightsched';
import { HttpActuator } from 'lightsched/actuators/http';
import { CombinedContainer, type RestoreResult } from 'lightsched/containers/combined';
import { QueueContainer } from 'lightsched/containers/queue';
import { SqlContainer, SqlPersistencer } from 'lightsched/containers/sql';
import type { CutItem, CutOutput } from './cut-task.js';

/** How many cuts run at once. */
export const CUT_CONCURRENCY = 2;
/** How long one attempt of a cut may run before it is stopped and counted as failed. */
export const CUT_TIMEOUT_MS = 60_000;
/** Attempts per cut in all: the first one and one retry. */
export const CUT_MAX_ATTEMPTS = 2;
/** How often the service is asked about running cuts. */
export const STATUS_POLL_MS = 300;

/** The SQLite file in the data folder. */
export const DATABASE_FILE = 'tasks.db';

export interface CutSchedulerOptions {
	/** Where the SQLite file lives (`tasks.db`). */
	readonly dataDir: string;
	/** The cut service's base URL. */
	readonly serviceUrl: string;
}

export interface CutScheduler {
	readonly scheduler: Scheduler<CutItem, CutOutput>;
	readonly persistencer: SqlPersistencer<CutOutput>;
	/** What was found in the database at start: waiting tasks restored, interrupted ones recovered. */
	readonly restored: RestoreResult;
}

export function outputName(body: unknown): CutOutput {
	const output = (body as { output?: unknown } | null)?.output;
	if (typeof output !== 'string' || output.length === 0) {
		throw new TypeError(
			`Expected the output answer to have \`output\` (a file name), got ${JSON.stringify(body)?.slice(0, 100)}`,
		);
	}
	return output;
}

/** `ActuatorError` messages of the HttpActuator for an answer with a 4xx status: `POST <url> answered HTTP 400: "…"`. */
const REFUSED = /^[A-Z]+ \S+ answered HTTP (4\d\d): "?(.*?)"?$/s;

/**
 * The HttpActuator, plus one rule: a cut the service refuses (HTTP 4xx on start: an end past the video's end,
 * an unreadable input) fails at once, since a second attempt would be refused the same way. Timeouts, an
 * unreachable service and ffmpeg failures still get their retry.
 */
export class CutActuator<TItem = CutItem> extends HttpActuator<TItem, CutOutput> {
	/** What the refusal message calls the job (`cut`; the workflow's actuator names thumbnails and previews). */
	protected jobName(_item: TItem): string {
		return 'cut';
	}

	override async start(task: TaskRecord<TItem, CutOutput>, ctx: ActuatorContext<CutOutput>): Promise<ActuatorStart> {
		try {
			return await super.start(task, ctx);
		} catch (error) {
			const refused = error instanceof ActuatorError ? REFUSED.exec(error.message) : null;
			if (refused === null) throw error;
			throw new NonRetryableError(
				`The cut service refused the ${this.jobName(task.item)} (HTTP ${refused[1]}): ${refused[2]}`,
				{ cause: error },
			);
		}
	}
}

export async function createCutScheduler(options: CutSchedulerOptions): Promise<CutScheduler> {
	const sql = new SqlContainer({
		knex: {
			client: 'sqlite3',
			connection: { filename: join(options.dataDir, DATABASE_FILE) },
			useNullAsDefault: true,
		},
	});
	const container = new CombinedContainer(new QueueContainer(), sql);
	const persistencer = new SqlPersistencer<CutOutput>({ container: sql });
	let restored: RestoreResult;
	try {
		// Restore now, so a broken database fails the start instead of the first request.
		restored = await container.restore();
	} catch (error) {
		await container.close().catch(() => undefined);
		throw error;
	}
	const actuator = new CutActuator({
		baseUrl: options.serviceUrl,
		start: { path: '/cuts', body: ({ input, start, end }) => ({ input, start, end }) },
		status: { path: '/cuts/{ref}' },
		output: { path: '/cuts/{ref}/output', map: outputName },
		stop: { path: '/cuts/{ref}/stop' },
		timeoutMs: 10_000,
	});
	const scheduler = new Scheduler<CutItem, CutOutput>({
		container,
		actuator,
		persistencer,
		concurrency: CUT_CONCURRENCY,
		timeoutMs: CUT_TIMEOUT_MS,
		maxAttempts: CUT_MAX_ATTEMPTS,
		backoff: { type: 'fixed', delayMs: 1000 },
		pollIntervalMs: STATUS_POLL_MS,
	});
	return { scheduler, persistencer, restored };
}
