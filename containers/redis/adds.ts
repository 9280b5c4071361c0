/**
 * The Redis container's add: up to `ADD_STEP_TASKS` (500) tasks in one `add` script, all or nothing; more in steps
 * of short scripts (stepped-add.ts). The reply may hand some tasks to an idle claimer of this container (idle-push.ts).
 * An add sent and left unanswered rejects with `PartialAddError`, its ids all unsure: it may still be stored.
 */
import { callToken } from './call-token.js';
import { assertStorableTask, DuplicateTaskError, PartialAddError, type TaskRecord } from 'lightsched/kit';
import { mayStillApply } from './call-guard.js';
import { encodeAllForAdd } from './codec.js';
import type { HandOffLedger } from './hand-off-ledger.js';
import { duplicateKey } from './operations.js';
import type { ScriptRun } from './script-runner.js';
import { ADD } from './add-script.js';
import { ADD_STEP_TASKS, addInSteps } from './stepped-add.js';

/** What an add needs of its container. */
export interface AddParts {
	readonly run: ScriptRun;
	readonly handOffs: HandOffLedger;
	/** Names the container and server in error messages (read when one is made: a Cluster's masters change). */
	readonly where: () => string;
	/** Wakes this container's schedulers (a task handed to one of them is held now). */
	readonly wake: () => void;
	/** `waitForReplicas`: after an add is stored, wait for the replicas (replicated-adds.ts). */
	readonly confirm?: ((ids: readonly string[]) => Promise<void>) | undefined;
}

/** See `RedisContainer.add`: sets each record's `seq` as stored. */
export async function addTasks(parts: AddParts, tasks: readonly TaskRecord[]): Promise<void> {
	if (tasks.length === 0) return;
	const seen = new Set<string>();
	tasks.forEach((task, index) => {
		// Redis keys are UTF-8: a lone surrogate would be sent as U+FFFD, so two ids would name one task.
		assertStorableTask(task, index);
		if (seen.has(task.id)) throw new DuplicateTaskError(task.id, 'appears twice in one add');
		seen.add(task.id);
	});
	if (tasks.length > ADD_STEP_TASKS) {
		const encoded = encodeAllForAdd(tasks);
		const seqs = await addInSteps({ run: parts.run, where: parts.where }, tasks, encoded, callToken());
		tasks.forEach((task, i) => (task.seq = seqs[i] ?? task.seq));
		await parts.confirm?.(tasks.map((task) => task.id));
		return;
	}
	const args = encodeAllForAdd(tasks, [String(Date.now()), callToken()]);
	let reply: [string, string?, string?];
	parts.handOffs.addSent();
	try {
		reply = (await parts.run(ADD, args)) as [string, string?, string?];
		// Tasks handed to idle claimers (idle-push.ts): held now if one is this container's.
		let held = false;
		for (let i = tasks.length + 1; i < reply.length; i++)
			held = parts.handOffs.take(String(reply[i]), 'reply') || held;
		if (held) parts.wake();
	} catch (error) {
		// Sent, unanswered: the add may be stored later (ioredis sends it again once back). Its ids, which the caller
		// may not know (generated ones), say what to look for or to add again (a stored id is refused).
		const ids = tasks.map((task) => task.id);
		throw mayStillApply(error) ? new PartialAddError(parts.where(), tasks.length, [], ids, error) : error;
	} finally {
		parts.handOffs.addAnswered();
	}
	if (reply[0] === 'dup')
		throw new DuplicateTaskError(
			reply[1] ?? '',
			reply[2] === 'reserved' ? 'is being added by another add in progress' : undefined,
		);
	if (reply[0] === 'dupkey') throw duplicateKey(reply);
	// The records are handed over (see TaskContainer.add): they get the seq the script gave them.
	tasks.forEach((task, i) => (task.seq = Number((reply as unknown[])[i + 1] ?? task.seq)));
	await parts.confirm?.(tasks.map((task) => task.id));
}
