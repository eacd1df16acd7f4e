// Public surface of auth: who a caller is (bearer tokens, client certificates), what it may see, how often it may ask.
export {
  AuthError,
  Authenticator,
  type AuthRequest,
  isLoopback,
  type Principal,
  type PrincipalScope,
} from './authenticator.ts';
export { DEFAULT_RATE_LIMIT, RateLimitError, type RequestKind } from './rate-limit.ts';
export { hashToken, TOKEN_HASH } from './tokens.ts';
