/**
 * The container contract suite now ships in `lightsched/testing` (testing/container-suite.ts), so a third party's
 * container runs the same suite; this file keeps the kit's tests' import path.
 */
export {
	describeContainerContract,
	records,
	type ContainerContractOptions,
	type ContainerFactory,
} from 'lightsched/testing';
