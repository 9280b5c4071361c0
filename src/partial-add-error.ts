/** An add that may be stored in part: a large add written in steps that stopped part-way, or a call unanswered. */
import { ContainerError } from './errors.js';

/**
 * A large `add` that a container writes in steps (RedisContainer above 500 tasks; SqlContainer on SQLite above 500)
 * stopped part-way through writing: `storedIds` are stored (whole steps, in order: a prefix of the add),
 * `unsureIds` were in the step in flight and are stored all or none, and every other task of the add is not stored.
 * `cause` is the failure (the connection lost, a step's reply overdue, the container closed, or an id or key that
 * another add took meanwhile). Add the tasks not stored again, by id, to finish the add.
 *
 * An add of one call (RedisContainer, up to 500 tasks) that was sent and left unanswered (no reply in time, or the
 * connection dropped with it on its way) rejects with this error too: `storedIds` empty and every id unsure, since
 * the server may still apply it. The ids include those the scheduler generated, which the caller would not know
 * otherwise: look them up, or add the tasks again with these ids (an id already stored is refused with
 * `DuplicateTaskError`, so nothing is stored twice).
 */
export class PartialAddError extends ContainerError {
	override name = 'PartialAddError';
	/** The ids of the add's tasks that are stored, in the add's order. */
	readonly storedIds: readonly string[];
	/** The ids of the step in flight: all of them are stored or none. */
	readonly unsureIds: readonly string[];

	constructor(
		where: string,
		total: number,
		storedIds: readonly string[],
		unsureIds: readonly string[],
		cause: unknown,
	) {
		const detail = cause instanceof Error ? cause.message : String(cause);
		const tasks = `${total} task${total === 1 ? '' : 's'}`;
		super(
			storedIds.length === 0 && unsureIds.length === total
				? `${where}: add of ${tasks} unanswered: may be stored (all or none) (${detail})`
				: `${where}: add of ${tasks} stopped part-way: the first ${storedIds.length} are stored, the next ` +
						`${unsureIds.length} may be (all or none), the other ${total - storedIds.length - unsureIds.length} ` +
						`are not (${detail})`,
			{ cause },
		);
		this.storedIds = storedIds;
		this.unsureIds = unsureIds;
	}
}
