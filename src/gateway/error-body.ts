// OpenAI-compatible error bodies for every answer Fairway gives itself (rejections, upstream failures), the same
// in both front ends: the proxy's responses and ext_proc's immediate responses.

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

/** `{"error":{"message","type","code"}}`; `code` is the machine-readable drop reason. */
export function openAiErrorBody(status: number, code: string, message: string): string {
  return JSON.stringify({ error: { message, type: TYPE_BY_STATUS[status] ?? 'server_error', code } });
}

export const ERROR_CONTENT_TYPE = 'application/json';
