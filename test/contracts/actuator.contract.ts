/**
 * The actuator contract suite now ships in `lightsched/testing` (testing/actuator-suite.ts), so a third party's
 * actuator runs the same suite; this file keeps the kit's tests' import path.
 */
export {
	actuatorContract,
	type ActuatorCapabilities,
	type ActuatorFixture,
	type ActuatorSetup,
	type LongWork,
} from 'lightsched/testing';
