// OpenAI-compatible error bodies for answers the proxy gives itself (rejections, upstream failures).

const TYPE_BY_STATUS: Readonly<Record<number, string>> = {
  400: 'invalid_request_error',
  404: 'not_found_error',
  413: 'invalid_request_error',
  429: 'rate_limit_error',
  502: 'upstream_error',
  503: 'service_unavailable_error',
  504: 'upstream_error',
};

/** `{"error":{"message","type","code"}}`; `code` is the machine-readable drop reason. */
export function openAiErrorBody(status: number, code: string, message: string): string {
  return JSON.stringify({ error: { message, type: TYPE_BY_STATUS[status] ?? 'server_error', code } });
}
