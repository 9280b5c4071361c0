/** Every error the kit raises is a `SchedulerError` subclass with its code (issue 12 §4). */
import { describe, expect, it } from 'vitest';
import {
	ActuatorError,
	CallbackError,
	ContainerError,
	LeaseExpiredError,
	PersistError,
	SchedulerError,
} from 'lightsched';
import { WorkflowError } from 'lightsched/workflows';
import { withContext } from '../../src/errors.js';

describe('the error family', () => {
	it('an error reported with context keeps its subclass, not only its code', () => {
		const persist = withContext('while persisting', new PersistError('disk full'));
		expect(persist).toBeInstanceOf(PersistError);
		expect(persist.code).toBe('ERR_PERSIST');
		expect(persist.message).toBe('while persisting: disk full');
		expect(withContext('x', new ActuatorError('a'))).toBeInstanceOf(ActuatorError);
		expect(withContext('x', new CallbackError('c'))).toBeInstanceOf(CallbackError);
		const plain = withContext('claiming', new Error('socket closed'));
		expect(plain).toBeInstanceOf(ContainerError);
		expect(plain.cause).toBeInstanceOf(Error);
		const other = withContext('x', new SchedulerError('t', { code: 'ERR_TASK_STOPPED' }));
		expect(other.code).toBe('ERR_TASK_STOPPED');
	});

	it('a lease sweep failure is a LeaseExpiredError carrying the stored message', () => {
		const error = new LeaseExpiredError('t1', 'lease expired on t1');
		expect(error).toBeInstanceOf(SchedulerError);
		expect(error.code).toBe('ERR_LEASE_EXPIRED');
		expect(error.message).toBe('lease expired on t1');
		expect(new LeaseExpiredError('t1').message).toMatch(/t1/);
	});

	it('workflow codes are SchedulerErrorCodes', () => {
		const error = new WorkflowError('no such run', 'ERR_RUN_NOT_FOUND');
		expect(error.code).toBe('ERR_RUN_NOT_FOUND');
	});
});
