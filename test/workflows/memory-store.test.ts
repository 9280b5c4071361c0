import { MemoryWorkflowStore } from 'lightsched/workflows';
import { workflowStoreContract } from './store.contract.js';

workflowStoreContract('MemoryWorkflowStore', async () => new MemoryWorkflowStore());
