/**
 * The dashboard on a port of its own: `startDashboard({ container, port })`.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHandler } from './handler.js';
import { resolveOptions, type DashboardOptions } from './options.js';

/** What `startDashboard` takes: the dashboard's options, and where to listen. */
export interface StartDashboardOptions extends DashboardOptions {
	/**
	 * The port; `0` picks a free one (read it from `url`).
	 * @default 4555
	 */
	readonly port?: number;
	/**
	 * The interface to listen on. Only this machine by default: listen wider only behind `auth` (and TLS).
	 * @default '127.0.0.1'
	 */
	readonly host?: string;
}

/** A running dashboard server. */
export interface RunningDashboard {
	/** The page's address, such as `http://127.0.0.1:4555/`. */
	readonly url: string;
	/** The HTTP server. */
	readonly server: Server;
	/** Stop listening, end the live streams and the sampler. Resolves once the server closed. */
	close(): Promise<void>;
}

/** Start the dashboard on its own HTTP server. */
export async function startDashboard(options: StartDashboardOptions): Promise<RunningDashboard> {
	const resolved = resolveOptions(options, ['port', 'host']);
	const { port = 4555, host = '127.0.0.1', ...rest } = options;
	if (!Number.isInteger(port) || port < 0 || port > 65_535)
		throw new TypeError(`Expected \`port\` to be an integer from 0 to 65535, got ${String(port)}`);
	const handler = createHandler(rest, resolved);
	const server = createServer((request, response) => handler(request, response));
	await new Promise<void>((resolve, reject) => {
		server.once('error', reject);
		server.listen(port, host, () => {
			server.off('error', reject);
			resolve();
		});
	});
	const address = server.address() as AddressInfo;
	const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
	return {
		url: `http://${shownHost}:${address.port}${resolved.basePath}/`,
		server,
		async close() {
			await handler.close();
			server.closeAllConnections?.();
			await new Promise<void>((resolve) => server.close(() => resolve()));
		},
	};
}
