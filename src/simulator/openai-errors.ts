// Errors as vLLM's OpenAI server writes them: {"error": {"message", "type", "param", "code"}}.

/** An error the API layer answers with; `status` is also the body's `code`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly param: string | null = null,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** vLLM's error `type` for each status it uses. */
export function errorType(status: number): string {
  switch (status) {
    case 400:
      return 'BadRequestError';
    case 404:
      return 'NotFoundError';
    case 405:
      return 'MethodNotAllowed';
    case 413:
      return 'RequestEntityTooLarge';
    default:
      return status >= 500 ? 'InternalServerError' : 'BadRequestError';
  }
}

export function errorBody(status: number, message: string, param: string | null = null): string {
  return JSON.stringify({ error: { message, type: errorType(status), param, code: status } });
}
