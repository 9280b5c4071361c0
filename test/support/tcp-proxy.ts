/**
 * A TCP proxy on a random loopback port in front of a server, for tests of calls caught on their way: it passes
 * traffic on until told to `swallow` what clients send (a call leaves the client and never reaches the server),
 * to `swallowReplies` (the server does the work, the client never hears of it: a lost reply; `swallowRepliesFrom`:
 * from the call holding a text on), or to `refuse` new connections (the server out of reach while it keeps
 * running); `cut()` closes every open connection.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';

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

/** A proxy in front of `targetPort` on 127.0.0.1 (see the file's comment). */
export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
	const sockets = new Set<Socket>();
	const cut = (): void => {
		for (const socket of [...sockets]) socket.destroy();
		sockets.clear();
	};
	const server = createServer((client) => {
		if (proxy.refuse) {
			client.destroy();
			return;
		}
		const upstream = createConnection({ port: targetPort, host: '127.0.0.1' });
		sockets.add(client).add(upstream);
		const end = (): void => {
			sockets.delete(client);
			sockets.delete(upstream);
			client.destroy();
			upstream.destroy();
		};
		client.on('error', end).on('close', end);
		upstream.on('error', end).on('close', end);
		client.on('data', (chunk: Buffer) => {
			if (proxy.swallowRepliesFrom !== null && chunk.includes(proxy.swallowRepliesFrom)) {
				proxy.swallowRepliesFrom = null;
				proxy.swallowReplies = true;
			}
			if (!proxy.swallow) upstream.write(chunk);
		});
		upstream.on('data', (chunk: Buffer) => {
			if (!proxy.swallowReplies) client.write(chunk);
		});
	});
	const proxy: TcpProxy = {
		port: await listenOnLoopback(server),
		swallow: false,
		swallowReplies: false,
		swallowRepliesFrom: null,
		refuse: false,
		cut,
		async close() {
			cut();
			await new Promise<void>((resolve) => server.close(() => resolve()));
		},
	};
	return proxy;
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
