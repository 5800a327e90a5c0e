// Public surface of src/gateway: the data-plane contract and the request pipeline behind it.
export {
  type InferenceRequest,
  type ResponseObserver,
  type Decision,
  type RouteDecision,
  type RejectDecision,
  type RequestHandler,
  HEADER_DESTINATION,
  HEADER_DESTINATION_SERVED,
  HEADER_DESTINATION_SUBSET,
  HEADER_OBJECTIVE,
  HEADER_FAIRNESS_ID,
  HEADER_REQUEST_ID,
  HEADER_DROP_REASON,
  METADATA_NAMESPACE_LB,
  METADATA_NAMESPACE_SUBSET,
} from './contract.js';
