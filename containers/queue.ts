/** `QueueContainer`: tasks in memory, first in first out. O(1) add and claim. Ignores priority. */
import { Deque } from '../src/deque.js';
import { MemoryContainer, type MemoryContainerOptions, type WaitingOrder } from './memory/memory-container.js';
import type { StoredTask } from './memory/stored-task.js';

export type { MemoryContainerOptions };

class FifoOrder extends Deque<StoredTask> implements WaitingOrder {}

/**
 * Tasks wait in memory in arrival order; `priority` is ignored (use `OrderedMapContainer` for priority).
 * Nothing survives the process: combine it with a persistent container for that (`CombinedContainer`).
 */
export class QueueContainer extends MemoryContainer {
	constructor(options: MemoryContainerOptions = {}) {
		super(new FifoOrder(), options);
	}
}
