/**
 * Shared containers as several processes use them: one container instance per owner (each scheduler process has its
 * own), all on the same store. `claim`, `renew` and a `transition` with an owner go through that owner's instance
 * (another owner's late report comes from another process); everything else, a transition without an owner among
 * it, through an instance of no owner (an operator's process). What one instance remembers of the tasks it handed
 * out (Redis: the claims it knows, its orphan check) then meets the writes of the others.
 */
import type { TaskContainer } from 'lightsched/kit';

export function perOwner(make: () => TaskContainer): TaskContainer {
	const base = make();
	const instances = new Map<string, TaskContainer>();
	const of = (owner: string | undefined): TaskContainer => {
		if (owner === undefined) return base;
		let instance = instances.get(owner);
		if (instance === undefined) {
			instance = make();
			instances.set(owner, instance);
		}
		return instance;
	};
	return {
		shared: base.shared,
		add: (tasks) => base.add(tasks),
		claim: (max, owner, leaseMs, now) => of(owner).claim(max, owner, leaseMs, now),
		transition: (id, from, to, patch, owner, claim) => of(owner).transition(id, from, to, patch, owner, claim),
		renew: (owner, ids, leaseMs, now) => of(owner).renew(owner, ids, leaseMs, now),
		reclaimExpired: (now) => base.reclaimExpired(now),
		requestStop: (id) => base.requestStop(id),
		nextDueAt: (now) => base.nextDueAt(now),
		get: (id) => base.get(id),
		list: (query) => base.list(query),
		counts: () => base.counts(),
		remove: (id) => base.remove(id),
		close: async () => {
			await Promise.all([base, ...instances.values()].map((instance) => instance.close()));
		},
	};
}
