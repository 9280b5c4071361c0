/** A memory container seen through another `transition` and no synchronous face, so a scheduler takes its general path. */
import type { TaskContainer } from 'lightsched';
import type { QueueContainer } from 'lightsched/containers/queue';

export function withTransition(inner: QueueContainer, transition: TaskContainer['transition']): TaskContainer {
	return {
		shared: false,
		add: (tasks) => inner.add(tasks),
		claim: (...args) => inner.claim(...args),
		transition,
		renew: (...args) => inner.renew(...args),
		reclaimExpired: (now) => inner.reclaimExpired(now),
		requestStop: (id) => inner.requestStop(id),
		nextDueAt: (now) => inner.nextDueAt(now),
		get: (id) => inner.get(id),
		list: (query) => inner.list(query),
		counts: () => inner.counts(),
		remove: (id) => inner.remove(id),
		close: () => inner.close(),
	};
}
