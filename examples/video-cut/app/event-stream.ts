/** Server-sent events: every page that listens hears of each task change, so it can refresh at once. */
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * A hub of open `text/event-stream` answers. `publish` writes one event to all of them; a comment every
 * `heartbeatMs` keeps proxies and the browser from closing an idle stream.
 */
export class EventStream {
	readonly #clients = new Set<ServerResponse>();
	readonly #heartbeat: ReturnType<typeof setInterval>;
	#nextId = 1;

	/** @param heartbeatMs How often to send a keep-alive comment. */
	constructor(heartbeatMs = 15_000) {
		this.#heartbeat = setInterval(() => this.#write(': keep-alive\n\n'), heartbeatMs);
		this.#heartbeat.unref();
	}

	get size(): number {
		return this.#clients.size;
	}

	/** Take over a request as an event stream. */
	open(req: IncomingMessage, res: ServerResponse): void {
		res.writeHead(200, {
			'content-type': 'text/event-stream; charset=utf-8',
			'cache-control': 'no-store',
			'x-content-type-options': 'nosniff',
			connection: 'keep-alive',
		});
		// Reconnect after 2 s if the stream breaks; say hello so the page knows it is live.
		res.write(`retry: 2000\nevent: hello\ndata: {}\n\n`);
		this.#clients.add(res);
		const drop = (): void => {
			this.#clients.delete(res);
		};
		req.on('close', drop);
		res.on('error', drop);
	}

	/** Send `data` (JSON) as event `event` to every listener. */
	publish(event: string, data: unknown): void {
		if (this.#clients.size === 0) return;
		this.#write(`id: ${this.#nextId++}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
	}

	#write(text: string): void {
		for (const res of this.#clients) {
			if (res.writableEnded || res.destroyed) this.#clients.delete(res);
			else res.write(text);
		}
	}

	/** End every stream. */
	close(): void {
		clearInterval(this.#heartbeat);
		for (const res of this.#clients) res.end();
		this.#clients.clear();
	}
}
