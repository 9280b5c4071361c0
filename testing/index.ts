/**
 * `lightsched/testing`: the contract suites every container and actuator of the kit passes, for a third party's
 * container or actuator to run in its own vitest (`vitest` is an optional peer dependency: install it to use
 * this subpath). `describeContainerContract` checks a `TaskContainer`, `actuatorContract` a `TaskActuator`;
 * docs/writing-a-container.md and docs/writing-an-actuator.md show both.
 * @module
 */
export {
	describeContainerContract,
	records,
	type ContainerContractOptions,
	type ContainerFactory,
} from './container-suite.js';
export type { ContainerOperations } from './operations-suite.js';
export { describeGroupRateLimit, type GroupLimitedFactory } from './group-suite.js';
export {
	actuatorContract,
	type ActuatorCapabilities,
	type ActuatorFixture,
	type ActuatorSetup,
	type LongWork,
} from './actuator-suite.js';
