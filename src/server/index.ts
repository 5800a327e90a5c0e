// Public surface of src/server: the composition root.
export { FairwayServer, type FairwayServerDeps, type ListeningPorts } from './fairway-server.js';
export { AdminHttpServer } from './admin-http-server.js';
export { newWorkerHub, serveWorker, ipcTransport } from './worker-hub.js';
export { HEAP_GROWING_PERCENT, heapGrowthFlag, tuneHeapGrowth } from './heap-growth.js';
