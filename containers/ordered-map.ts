/** `OrderedMapContainer`: tasks in memory by priority (higher first), FIFO within a priority. O(log n). */
import { BinaryHeap } from '../src/binary-heap.js';
import { MemoryContainer, type MemoryContainerOptions, type MemorySlot, type WaitingOrder } from '../src/memory-container.js';

export type { MemoryContainerOptions };

class PriorityOrder extends BinaryHeap<MemorySlot> implements WaitingOrder {
	constructor() {
		super((a, b) => a.rec.priority > b.rec.priority || (a.rec.priority === b.rec.priority && a.rec.seq < b.rec.seq));
	}

	shift(): MemorySlot | undefined {
		return this.pop();
	}
}

/**
 * Tasks wait in memory ordered by `priority` (higher first), first in first out within a priority.
 * Add and claim are O(log n). Nothing survives the process.
 */
export class OrderedMapContainer extends MemoryContainer {
	constructor(options: MemoryContainerOptions = {}) {
		super(new PriorityOrder(), options);
	}
}
