/**
 * Where the Redis container's warnings go: its own `warning` event always; then the `warning` event of the scheduler
 * it is attached to, instead of the default `console.warn` (a `log` the user gave still gets them).
 */
import { ContainerError, type PartReporter } from 'lightsched/kit';
import type { RedisContainerWarning } from './options.js';

export interface WarningRoutes {
	/** The container's own `warning` event. */
	readonly emit: (warning: RedisContainerWarning) => void;
	/** The `log` option: a function, or `false` for none. */
	readonly log: ((message: string) => void) | false;
	/** Whether `log` is the default console.warn (replaced by the scheduler's `warning` event when attached). */
	readonly logIsDefault: boolean;
	/** Names the container and server in the scheduler's warning (read when one is made). */
	readonly where: () => string;
}

export class RedisWarnings {
	readonly #routes: WarningRoutes;
	/** The scheduler this container is attached to, if any. */
	#reporter: PartReporter | undefined;

	constructor(routes: WarningRoutes) {
		this.#routes = routes;
	}

	warn(warning: RedisContainerWarning): void {
		const { emit, log, logIsDefault, where } = this.#routes;
		emit(warning);
		if (this.#reporter !== undefined) this.#reporter.warning(new ContainerError(`${where()}: ${warning.message}`));
		if (log !== false && !(this.#reporter !== undefined && logIsDefault)) log(warning.message);
	}

	/** Send warnings to a scheduler's `warning` event (instead of the default console.warn) until detached. */
	attach(reporter: PartReporter): () => void {
		this.#reporter = reporter;
		return () => {
			if (this.#reporter === reporter) this.#reporter = undefined;
		};
	}
}
