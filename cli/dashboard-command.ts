/**
 * `lightsched dashboard`: serve the dashboard (lightsched/dashboard) over the `--container` until Ctrl+C (SIGINT)
 * or SIGTERM. It listens on 127.0.0.1 unless `--host` says otherwise; `--token` (or LIGHTSCHED_DASHBOARD_TOKEN)
 * makes the API ask for `Authorization: Bearer <token>`, and `--read-only` refuses every action. It shows the
 * workflow runs of the container's run store too, and offers their commands (workflows/operator-commands.ts: written
 * here, carried out by the workers' `Workflows` within their sweep).
 */
import { containerWorkflowStore } from 'lightsched/kit';
import { CliError, EXIT } from './cli-error.js';
import { openContainer, parseContainerSpec } from './container-spec.js';
import { printJson, type Io } from './output.js';
import { parseCount } from './parse-values.js';
import { adminScheduler, containerOption, nameOption, type GlobalOptions } from './session.js';

export interface DashboardOptions {
	readonly port?: string;
	readonly host?: string;
	readonly token?: string;
	readonly readOnly?: boolean;
	readonly title?: string;
}

/** Serve the dashboard until `stop` resolves (a signal's name); resolves with the exit code. */
export async function dashboardCommand(
	global: GlobalOptions,
	options: DashboardOptions,
	io: Io,
	stop: Promise<string>,
): Promise<number> {
	const port = options.port === undefined ? 4555 : parseCount('--port', options.port);
	if (port > 65_535) throw new CliError(`Expected \`--port\` to be at most 65535, got ${port}`, EXIT.usage);
	const token = options.token ?? (process.env.LIGHTSCHED_DASHBOARD_TOKEN || undefined);
	if (token !== undefined && token.length < 8)
		throw new CliError(
			'Expected `--token` (or LIGHTSCHED_DASHBOARD_TOKEN) to be at least 8 characters',
			EXIT.usage,
		);
	const host = options.host ?? '127.0.0.1';
	const container = await openContainer(parseContainerSpec(containerOption(global)), nameOption(global));
	// The workflow runs beside the tasks, with their commands written for the workers' `Workflows` to carry out.
	const scheduler = adminScheduler(container);
	const store = containerWorkflowStore(container);
	try {
		const { startDashboard } = await import('lightsched/dashboard');
		const { RunOperator } = await import('../workflows/operator-commands.js');
		const dashboard = await startDashboard({
			scheduler,
			...(store === undefined ? {} : { workflows: new RunOperator({ store, scheduler }) }),
			port,
			host,
			readOnly: options.readOnly === true,
			...(token === undefined ? {} : { auth: token }),
			...(options.title === undefined ? {} : { title: options.title }),
		});
		if (global.json === true) printJson(io, { url: dashboard.url, readOnly: options.readOnly === true });
		else {
			io.out.write(
				`dashboard: ${dashboard.url}${options.readOnly === true ? ' (read-only)' : ''}; Ctrl+C stops it\n`,
			);
			if (token === undefined && host !== '127.0.0.1' && host !== 'localhost' && host !== '::1')
				io.err.write(
					`warning: listening on ${host} without --token: anyone who reaches it can stop and remove tasks\n`,
				);
		}
		const signal = await stop;
		if (global.json !== true) io.err.write(`${signal}: stopping the dashboard\n`);
		await dashboard.close();
	} finally {
		await store?.close();
		await scheduler.close();
	}
	return EXIT.ok;
}
