/**
 * What the dashboard takes: the container (or a scheduler) it shows, and how it is guarded.
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Registry } from 'prom-client';
import { rejectUnknownOptions } from 'lightsched/kit';
import type { Scheduler, TaskContainer } from 'lightsched';
import type { WorkflowStore } from 'lightsched/workflows';
import type { RunEngine } from './runs-api.js';

/** Decides whether a request may use the dashboard's API: resolve `true` to let it through. */
export type DashboardAuth = (request: IncomingMessage) => boolean | Promise<boolean>;

/** What `dashboardHandler` takes. Give `container` or `scheduler`. */
export interface DashboardOptions {
	/**
	 * The container to show. The dashboard acts on it through a scheduler of its own that claims nothing (as the
	 * CLI does) and never closes the container: it stays yours to close.
	 */
	readonly container?: TaskContainer;
	/**
	 * A scheduler to show and act through instead of `container` (use it with an in-process container, so a stop
	 * reaches the work this scheduler runs). It stays yours to close.
	 */
	// eslint-disable-next-line @typescript-eslint/no-explicit-any
	readonly scheduler?: Scheduler<any, any>;
	/**
	 * Workflow runs to show: a `Workflows` engine (runs, graphs and the run commands; or another `RunEngine`) or a
	 * `WorkflowStore` alone (runs and graphs, no commands).
	 */
	readonly workflows?: RunEngine | WorkflowStore;
	/** A prom-client registry to serve at `metrics` (Prometheus's text format), behind the same `auth`. */
	readonly registry?: Registry;
	/**
	 * Refuse every action (stop, retry, remove, clean, pause, run commands) with 403; the page hides their buttons.
	 * @default false
	 */
	readonly readOnly?: boolean;
	/**
	 * Who may use the API (`api/…` and `metrics`; the page and its assets hold no data and are served to anyone):
	 * a bearer token the requests must carry (`Authorization: Bearer <token>`; the page asks for it), or a function
	 * of the request (check your app's session cookie, a client certificate…). A refusal answers 401.
	 * @default everyone may
	 */
	readonly auth?: string | DashboardAuth | undefined;
	/**
	 * The path the handler is mounted at when the server does not strip it (plain `node:http`), such as `/dash`.
	 * Express's `app.use('/dash', handler)` strips it: leave this out there.
	 * @default ''
	 */
	readonly basePath?: string;
	/**
	 * How often the counts are sampled while someone watches (one sampler for every viewer), in milliseconds.
	 * @default 1000
	 */
	readonly sampleMs?: number;
	/**
	 * The page's title.
	 * @default 'lightsched'
	 */
	readonly title?: string;
}

/** The options, checked, with defaults filled in. */
export interface ResolvedDashboardOptions {
	readonly readOnly: boolean;
	readonly auth: DashboardAuth | null;
	readonly basePath: string;
	readonly sampleMs: number;
	readonly title: string;
}

const NAMES = ['container', 'scheduler', 'workflows', 'registry', 'readOnly', 'auth', 'basePath', 'sampleMs', 'title'];

/** Check the options (a mistake throws a `TypeError` naming the option) and fill in the defaults. */
export function resolveOptions(options: DashboardOptions, extra: readonly string[] = []): ResolvedDashboardOptions {
	if (typeof options !== 'object' || options === null)
		throw new TypeError('Expected the dashboard options to be an object like { container }');
	rejectUnknownOptions('the dashboard', options as unknown as Record<string, unknown>, [...NAMES, ...extra]);
	if ((options.container === undefined) === (options.scheduler === undefined))
		throw new TypeError('Expected the dashboard options to have `container` or `scheduler` (one of them)');
	const sampleMs = options.sampleMs ?? 1000;
	if (!Number.isInteger(sampleMs) || sampleMs < 50 || sampleMs > 3_600_000)
		throw new TypeError(`Expected \`sampleMs\` to be an integer from 50 to 3600000, got ${String(sampleMs)}`);
	const basePath = (options.basePath ?? '').replace(/\/+$/, '');
	if (basePath !== '' && !/^\/[\w\-./~]*$/.test(basePath))
		throw new TypeError(
			`Expected \`basePath\` to be a path such as /dash, got ${JSON.stringify(options.basePath)}`,
		);
	const { auth } = options;
	if (auth !== undefined && typeof auth !== 'function' && (typeof auth !== 'string' || auth.length < 8))
		throw new TypeError('Expected `auth` to be a function of the request or a token of at least 8 characters');
	return {
		readOnly: options.readOnly === true,
		auth: auth === undefined ? null : typeof auth === 'function' ? auth : bearerAuth(auth),
		basePath,
		sampleMs,
		title: options.title ?? 'lightsched',
	};
}

/** An `auth` that lets through requests carrying `Authorization: Bearer <token>`, compared in constant time. */
function bearerAuth(token: string): DashboardAuth {
	const wanted = Buffer.from(token, 'utf8');
	return (request) => {
		const header = request.headers.authorization ?? '';
		const match = /^Bearer\s+(\S+)$/i.exec(header);
		if (match === null) return false;
		const given = Buffer.from(match[1] ?? '', 'utf8');
		return given.length === wanted.length && timingSafeEqual(given, wanted);
	};
}
