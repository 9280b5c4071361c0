/** `OrderedMapContainer`: tasks in memory by priority (higher first), FIFO within a priority. O(log n). */
import { BinaryHeap } from './memory/binary-heap.js';
import { MemoryContainer, type MemoryContainerOptions, type WaitingOrder } from './memory/memory-container.js';
import type { StoredTask } from './memory/stored-task.js';

export type { MemoryContainerOptions };

class PriorityOrder extends BinaryHeap<StoredTask> implements WaitingOrder {
	constructor() {
		super((a, b) => a.priority > b.priority || (a.priority === b.priority && a.seq < b.seq));
	}

	shift(): StoredTask | undefined {
		return this.pop();
	}
}

/**
 * A priority queue in memory: despite the name, a binary heap (not an ordered map) keyed by `priority` (higher
 * first) and arrival (first in first out within a priority). Add and claim are O(log n). Nothing survives the
 * process. The name is kept so existing code compiles.
 */
export class OrderedMapContainer extends MemoryContainer {
	constructor(options: MemoryContainerOptions = {}) {
		super(new PriorityOrder(), options);
	}
}
