/** Type tests of the scheduler's events: what a listener's payload is typed as. */
import { describe, expectTypeOf, it } from 'vitest';
import { Scheduler, type SchedulerEvents } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { SqlContainer } from 'lightsched/containers/sql';
import { SqlPersistencer } from 'lightsched/containers/sql';

type Payload<E extends keyof SchedulerEvents<unknown, number>> = SchedulerEvents<unknown, number>[E][0];

describe('event payload types', () => {
	it('task:succeeded carries the output as the actuator types it, with a SqlPersistencer too', () => {
		const make = (): void => {
			const container = new SqlContainer({
				knex: { client: 'sqlite3', connection: { filename: ':memory:' }, useNullAsDefault: true },
			});
			const scheduler = new Scheduler({
				container,
				actuator: new FunctionActuator((n: number) => ({ doubled: n * 2 })),
				persistencer: new SqlPersistencer({ container }),
			});
			scheduler.on('task:succeeded', ({ output }) => {
				expectTypeOf(output).toEqualTypeOf<{ doubled: number }>();
			});
		};
		expectTypeOf(make).toBeFunction();
		expectTypeOf<Payload<'task:succeeded'>['output']>().toEqualTypeOf<number>();
	});
});
