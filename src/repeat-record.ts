/**
 * A repeat as a container stores it: the caller's definition as plain JSON (`spec`, which the scheduler reads
 * and the container never interprets) and the time of its next tick, which `advanceRepeat` moves by
 * compare-and-set together with the tick's task, so each tick adds exactly one task however many schedulers
 * share the container.
 */
export interface RepeatRecord {
	/** Unique within the container. */
	readonly key: string;
	/** The definition (plain JSON), as the scheduler wrote it. */
	readonly spec: unknown;
	/** When the next tick is due (milliseconds since the epoch), or `null` when no tick is left. */
	readonly nextRunAt: number | null;
	/** When the repeat was first stored. */
	readonly createdAt: number;
	/**
	 * When it last changed, by the clock of the process that changed it; a changed definition keeps the stored time
	 * when that is later than its own clock, so its ticks follow every tick already added.
	 */
	readonly updatedAt: number;
}
