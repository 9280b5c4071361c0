/** A worker-thread function module written in TypeScript (test/actuators/function-typescript.test.ts). */
import type { FunctionContext } from 'lightsched/actuators/function';
import { scale, type Scaled } from './scale.js';

interface SumItem {
	readonly a: number;
	readonly b: number;
}

export default function sum(item: SumItem, { progress }: FunctionContext<SumItem>): Scaled {
	progress('adding');
	return scale(item.a + item.b, 2);
}
