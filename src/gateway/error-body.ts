// OpenAI-compatible error bodies for every answer Fairway gives itself (rejections, upstream failures), the same
// in both front ends: the proxy's responses and ext_proc's immediate responses.
import { MODEL_NOT_FOUND } from './outcome-response.js';

const TYPE_BY_STATUS: Readonly<Record<number, string>> = {
  400: 'invalid_request_error',
  404: 'not_found_error',
  413: 'invalid_request_error',
  431: 'invalid_request_error',
  429: 'rate_limit_error',
  502: 'upstream_error',
  503: 'service_unavailable_error',
  504: 'upstream_error',
};

/**
 * `{"error":{"message","type","code"}}`; `code` is the machine-readable drop reason, except for a model nobody
 * serves, which gets OpenAI's own answer (`invalid_request_error`, `param: "model"`, `code: "model_not_found"`) so
 * clients written against OpenAI recognise it.
 */
export function openAiErrorBody(status: number, code: string, message: string): string {
  if (code === MODEL_NOT_FOUND) {
    return JSON.stringify({ error: { message, type: 'invalid_request_error', param: 'model', code: 'model_not_found' } });
  }
  return JSON.stringify({ error: { message, type: TYPE_BY_STATUS[status] ?? 'server_error', code } });
}

export const ERROR_CONTENT_TYPE = 'application/json';
