/** The error of a large add that a container writes in steps and that stopped part-way. */
import { ContainerError } from './errors.js';

/**
 * A large `add` that a container writes in steps (RedisContainer above 500 tasks; SqlContainer on SQLite above 500)
 * stopped part-way through writing: `storedIds` are stored (whole steps, in order: a prefix of the add),
 * `unsureIds` were in the step in flight and are stored all or none, and every other task of the add is not stored.
 * `cause` is the failure (the connection lost, a step's reply overdue, the container closed, or an id or key that
 * another add took meanwhile). Add the tasks not stored again, by id, to finish the add.
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
		super(
			`${where}: add of ${total} tasks stopped part-way: the first ${storedIds.length} are stored, the next ` +
				`${unsureIds.length} may be (all or none), the other ${total - storedIds.length - unsureIds.length} ` +
				`are not (${detail})`,
			{ cause },
		);
		this.storedIds = storedIds;
		this.unsureIds = unsureIds;
	}
}
