/**
 * Turns whatever a call to the API threw (the SDK's APIError family, a socket
 * failure while a body streams, a timeout) into one ApiError with the HTTP
 * status, the API's own error code, the request id and whether a retry can help.
 * The API key never reaches a message: it is cut out wherever it appears.
 */
import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai';
import { AbortError, ApiError, BatchlineError, type ApiErrorContext, type ErrorCodeOf } from '../errors.ts';
import { isRetryableStatus, retryAfterFromHeaders } from '../core/retry-policy.ts';

/** Where a call was aimed: named in its error. */
export interface CallTarget extends Omit<ApiErrorContext, 'status' | 'apiCode' | 'requestId' | 'retryable' | 'cause'> {
  /** What was being done, e.g. "upload part 3", "create batch". */
  operation: string;
}

/**
 * Socket-level failures of a request or of a body while it streams: worth another attempt.
 * (One string: these are the system's and undici's codes, not batchline's own.)
 */
const NETWORK_CODES = new Set(
  (
    'ECONNRESET ECONNREFUSED ECONNABORTED EPIPE ETIMEDOUT EHOSTUNREACH ENETUNREACH EAI_AGAIN ' +
    'UND_ERR_SOCKET UND_ERR_CLOSED UND_ERR_CONNECT_TIMEOUT UND_ERR_HEADERS_TIMEOUT UND_ERR_BODY_TIMEOUT ERR_STREAM_PREMATURE_CLOSE'
  ).split(' '),
);

const STATUS_CODES: Record<number, ErrorCodeOf<'ApiError'>> = {
  400: 'API_BAD_REQUEST',
  401: 'API_UNAUTHORIZED',
  403: 'API_FORBIDDEN',
  404: 'API_NOT_FOUND',
  408: 'API_TIMEOUT',
  409: 'API_CONFLICT',
  422: 'API_UNPROCESSABLE',
  429: 'API_RATE_LIMITED',
};

export function codeForStatus(status: number): ErrorCodeOf<'ApiError'> {
  return STATUS_CODES[status] ?? (status >= 500 ? 'API_SERVER_ERROR' : 'API_ERROR');
}

/** The error's network code, looking through `cause` chains (fetch wraps the socket error). */
function networkCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return code;
  }
  return undefined;
}

export function redact(text: string, secret: string | null | undefined): string {
  return secret && secret.length >= 4 ? text.split(secret).join('[redacted]') : text;
}

/**
 * The ApiError for `err`, or `err` itself when it is already a BatchlineError
 * (ours, e.g. SHARD_CHANGED, decided before any request went out). An abort
 * becomes an AbortError.
 */
export function toApiError(err: unknown, target: CallTarget, secret?: string | null): BatchlineError {
  if (err instanceof BatchlineError) return err;
  const { operation, ...where } = target;
  if (err instanceof APIUserAbortError || (err instanceof Error && err.name === 'AbortError')) {
    return new AbortError(`The operation was aborted (${operation})`, where);
  }
  if (err instanceof APIConnectionTimeoutError) {
    return new ApiError('API_TIMEOUT', `${operation}: the request timed out`, { ...where, retryable: true, cause: err });
  }
  if (err instanceof APIError && typeof err.status === 'number') {
    const body = err.error as { message?: unknown } | undefined;
    const detail = typeof body?.message === 'string' ? body.message : err.message;
    const context: ApiErrorContext = {
      ...where,
      status: err.status,
      retryable: isRetryableStatus(err.status),
      apiCode: typeof err.code === 'string' ? err.code : undefined,
      requestId: err.requestID ?? undefined,
      retryAfterMs: err.headers ? retryAfterFromHeaders((name) => err.headers!.get(name)) : undefined,
    };
    return new ApiError(codeForStatus(err.status), redact(`${operation}: ${err.status} ${detail}`, secret), context);
  }
  const code = networkCode(err);
  if (err instanceof APIConnectionError || code !== undefined) {
    const cause = (err as { cause?: unknown }).cause;
    const reason = code ?? (cause instanceof Error ? cause.message : (err as Error).message);
    return new ApiError('API_CONNECTION', redact(`${operation}: connection failed (${reason})`, secret), { ...where, retryable: true });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new ApiError('API_ERROR', redact(`${operation}: ${message}`, secret), { ...where, retryable: false });
}
