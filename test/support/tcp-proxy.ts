/**
 * TCP proxies on a random loopback port in front of a server, for tests of traffic caught on its way.
 * `startInterceptingProxy` holds the plumbing (accept, connect to the server, pass on both ways, cut every open
 * connection) and takes what a test does to each connection's traffic as a function. `startTcpProxy` is one with
 * switches: it passes traffic on until told to `swallow` what clients send (a call leaves the client and never
 * reaches the server), to `swallowReplies` (the server does the work, the client never hears of it: a lost reply;
 * `swallowRepliesFrom`: from the call holding a text on), or to `refuse` new connections (the server out of reach
 * while it keeps running); `cut()` closes every open connection.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';

/** One connection through an intercepting proxy: where its interception sends what it passes on or answers. */
export interface ProxiedConnection {
	/** Write to the server. */
	toServer(chunk: Buffer | string): void;
	/** Write to the client. */
	toClient(chunk: Buffer | string): void;
}

/**
 * What an intercepting proxy does with the chunks of one connection. A handler decides each chunk's fate (pass it
 * on through the `ProxiedConnection`, answer it, drop it); a side without one is piped through untouched.
 */
export interface Interception {
	/** A chunk the client sent. */
	readonly fromClient?: (chunk: Buffer) => void;
	/** A chunk the server sent. */
	readonly fromServer?: (chunk: Buffer) => void;
}

/**
 * Called as a client connects, before the proxy connects to the server: the connection's interception, or `null` to
 * close it at once (the server out of reach).
 */
export type Intercept = (connection: ProxiedConnection) => Interception | null;

export interface InterceptingProxy {
	/** The proxy's port on 127.0.0.1. */
	readonly port: number;
	/** Close every open connection (both sockets at once, whatever is in flight); returns how many were open. */
	cut(): number;
	close(): Promise<void>;
}

/** A proxy in front of `targetPort` on 127.0.0.1 whose connections `intercept` handles (see the file's comment). */
export async function startInterceptingProxy(targetPort: number, intercept: Intercept): Promise<InterceptingProxy> {
	const open = new Set<readonly [Socket, Socket]>();
	const cut = (): number => {
		const count = open.size;
		for (const [client, upstream] of [...open]) {
			client.destroy();
			upstream.destroy();
		}
		open.clear();
		return count;
	};
	const server = createServer((client) => {
		// The server's socket once connected: a refused connection never opens one.
		const upstream: { socket?: Socket } = {};
		const interception = intercept({
			toServer: (chunk) => void upstream.socket?.write(chunk),
			toClient: (chunk) => void client.write(chunk),
		});
		if (interception === null) {
			client.destroy();
			return;
		}
		const target = createConnection({ port: targetPort, host: '127.0.0.1' });
		upstream.socket = target;
		const pair = [client, target] as const;
		open.add(pair);
		const end = (): void => {
			open.delete(pair);
			client.destroy();
			target.destroy();
		};
		client.on('error', end).on('close', end);
		target.on('error', end).on('close', end);
		const { fromClient, fromServer } = interception;
		if (fromClient === undefined) client.pipe(target);
		else client.on('data', fromClient);
		if (fromServer === undefined) target.pipe(client);
		else target.on('data', fromServer);
	});
	const port = await listenOnLoopback(server);
	return {
		port,
		cut,
		async close() {
			cut();
			await new Promise<void>((resolve) => server.close(() => resolve()));
		},
	};
}

export interface TcpProxy {
	/** The proxy's port on 127.0.0.1. */
	readonly port: number;
	/** Drop what clients send instead of passing it on. */
	swallow: boolean;
	/** Drop what the server answers instead of passing it on. */
	swallowReplies: boolean;
	/**
	 * Set `swallowReplies` once a client sends a chunk holding this text (then cleared): the replies to that call
	 * and after it are lost, the calls before it answered.
	 */
	swallowRepliesFrom: string | null;
	/** Close new connections at once (the server out of reach). */
	refuse: boolean;
	/** Close every open connection. */
	cut(): void;
	close(): Promise<void>;
}

/** A proxy in front of `targetPort` on 127.0.0.1 with switches (see the file's comment). */
export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
	const switches = {
		swallow: false,
		swallowReplies: false,
		swallowRepliesFrom: null as string | null,
		refuse: false,
	};
	const proxy = await startInterceptingProxy(targetPort, (connection) =>
		switches.refuse
			? null
			: {
					fromClient: (chunk) => {
						if (switches.swallowRepliesFrom !== null && chunk.includes(switches.swallowRepliesFrom)) {
							switches.swallowRepliesFrom = null;
							switches.swallowReplies = true;
						}
						if (!switches.swallow) connection.toServer(chunk);
					},
					fromServer: (chunk) => {
						if (!switches.swallowReplies) connection.toClient(chunk);
					},
				},
	);
	return Object.assign(switches, {
		port: proxy.port,
		cut: () => void proxy.cut(),
		close: () => proxy.close(),
	});
}

/** Listen on a random loopback port; resolves with the port. */
export function listenOnLoopback(server: Server): Promise<number> {
	return new Promise<number>((resolve, reject) => {
		server.once('error', reject);
		server.listen(0, '127.0.0.1', () => {
			const address = server.address();
			resolve(typeof address === 'object' && address !== null ? address.port : 0);
		});
	});
}
