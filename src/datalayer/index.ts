// Public surface of src/datalayer: endpoints, their metrics, and Fairway's own in-flight accounting.
export {
  type EndpointMetrics,
  type EndpointSnapshot,
  type PoolSnapshot,
  type PoolView,
  endpointId,
} from './endpoint.js';
export { type InflightLoad, type InflightView, NO_INFLIGHT } from './inflight.js';
