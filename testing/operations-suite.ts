/**
 * The contract of a container's optional operations (queue-wide pause, bulk clean, repeats, task logs, task changes:
 * each in its own file), declared inside `describeContainerContract` for the operations a container says it offers
 * (`ContainerContractOptions.operations`).
 * A container that says it does not offer one must not have its methods either: an operation is either declared
 * and tested, or absent (the scheduler then refuses it with a clear error).
 */
import type { TaskContainer } from 'lightsched';
import { describeChanges } from './change-suite.js';
import { describeClean } from './clean-suite.js';
import { describeLogs } from './log-suite.js';
import { describePause } from './pause-suite.js';
import { describeRepeats } from './repeat-suite.js';

/** The optional operations a container offers. */
export interface ContainerOperations {
	/** `setPaused` and `isPaused`: a queue-wide pause. */
	readonly pause: boolean;
	/** `clean`: bulk retention of finished tasks. */
	readonly clean: boolean;
	/** `putRepeat`, `getRepeat`, `listRepeats`, `removeRepeat`, `advanceRepeat`: repeating tasks. */
	readonly repeats: boolean;
	/** `appendLogs`, `getLogs`: task logs. */
	readonly logs: boolean;
	/** `readChanges`: task changes for followers in any process. Absent means not offered. */
	readonly events?: boolean;
}

/** Declare the tests of the operations `offered` says `make`'s containers have. */
export function describeOperations(make: () => Promise<TaskContainer>, offered: ContainerOperations): void {
	describePause(make, offered.pause);
	describeClean(make, offered.clean);
	describeRepeats(make, offered.repeats);
	describeLogs(make, offered.logs);
	describeChanges(make, offered.events === true);
}
