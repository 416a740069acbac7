/** Errors of RFC 3161 time-stamping (requests, responses, trusted roots). Codes are stable: callers match on them. */
import { CodedError } from '../errors.ts';

export const TimestampErrorCode = {
  /** A TimeStampReq that is not a v1 request with a 32-byte SHA-256 imprint (or bytes that are not DER at all). */
  REQUEST_INVALID: 'TSA_REQUEST_INVALID',
  /** The TSA answered with a status other than granted / grantedWithMods. */
  REJECTED: 'TSA_REJECTED',
  /** The TSA's answer is not a TimeStampResp carrying a well-formed, self-consistently signed token. */
  RESPONSE_MALFORMED: 'TSA_RESPONSE_MALFORMED',
  /** The token time-stamps another hash than the one we asked for. */
  IMPRINT_MISMATCH: 'TSA_IMPRINT_MISMATCH',
  /** The token's nonce is absent or differs from the request's. */
  NONCE_MISMATCH: 'TSA_NONCE_MISMATCH',
  /** A token that does not parse (tokenInfo; verifyTimestampToken reports it as a verdict instead). */
  TOKEN_MALFORMED: 'TSA_TOKEN_MALFORMED',
  /** A trusted-roots file that holds no certificate, or a block that is not an X.509 certificate. */
  ROOTS_MALFORMED: 'TSA_ROOTS_MALFORMED',
  /** The TSA could not be reached (network error, HTTP error status, timeout). */
  UNREACHABLE: 'TSA_UNREACHABLE'
} as const;
export type TimestampErrorCode = (typeof TimestampErrorCode)[keyof typeof TimestampErrorCode];

/** An error of RFC 3161 time-stamping, with one of TimestampErrorCode. */
export class TimestampError extends CodedError<TimestampErrorCode> {
  constructor(code: TimestampErrorCode, message: string, opts: { detail?: unknown; cause?: unknown } = {}) {
    super(code, message, opts);
    this.name = 'TimestampError';
  }
}

export function isTimestampError(e: unknown): e is TimestampError {
  return e instanceof TimestampError;
}
