import { QueueContainer } from 'lightsched/containers/queue';
import { OrderedMapContainer } from 'lightsched/containers/ordered-map';
import { describeContainerContract } from '../contracts/container.contract.js';

describeContainerContract('QueueContainer', () => new QueueContainer(), { priority: false, json: false });
describeContainerContract('OrderedMapContainer', () => new OrderedMapContainer(), { priority: true, json: false });
