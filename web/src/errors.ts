import type { CombinedError } from '@urql/core';

/** A failure said the way a person wants to read it, never raw JSON. */
export class UserFacingError extends Error {
  constructor(
    message: string,
    readonly kind: 'network' | 'auth' | 'forbidden' | 'not-found' | 'input' | 'rate-limited' | 'server',
  ) {
    super(message);
  }
}

interface ErrorLike {
  message: string;
  extensions?: Record<string, unknown>;
}

const NETWORK = 'Cannot reach the server. Check your connection and try again.';

/** Maps GraphQL error codes (router and subgraphs) to a sentence and a kind. */
export function explainErrors(errors: readonly ErrorLike[], context?: 'sign-in'): UserFacingError {
  const first = errors[0];
  const code = String(first?.extensions?.code ?? '');
  switch (code) {
    case 'UNAUTHENTICATED':
      return context === 'sign-in'
        ? new UserFacingError('Wrong email or password.', 'auth')
        : new UserFacingError('Your session has ended. Please sign in again.', 'auth');
    case 'FORBIDDEN':
      return new UserFacingError("You don't have permission to do that.", 'forbidden');
    case 'NOT_FOUND':
      return new UserFacingError('That no longer exists.', 'not-found');
    case 'RATE_LIMITED':
      return new UserFacingError('Too many attempts. Wait a minute, then try again.', 'rate-limited');
    case 'BAD_USER_INPUT':
    case 'CONFLICT':
    case 'ALREADY_EXISTS':
      return new UserFacingError(sentence(first.message), 'input');
    case 'INTERNAL_SERVER_ERROR':
    case 'SUBREQUEST_HTTP_ERROR':
    case 'GATEWAY_TIMEOUT':
      return new UserFacingError('Something went wrong on our side. Please try again.', 'server');
    default:
      return new UserFacingError(first ? sentence(first.message) : 'Something went wrong.', 'server');
  }
}

function sentence(message: string): string {
  const m = message.trim();
  if (!m) return 'Something went wrong.';
  const s = m[0].toUpperCase() + m.slice(1);
  return /[.!?]$/.test(s) ? s : `${s}.`;
}

/** The message to show for a failed urql operation. */
export function explain(error: CombinedError | undefined, context?: 'sign-in'): string | null {
  if (!error) return null;
  if (error.graphQLErrors.length) return explainErrors(error.graphQLErrors, context).message;
  if (error.networkError) return NETWORK;
  const status = (error.response as Response | undefined)?.status;
  if (status === 429) return 'Too many attempts. Wait a minute, then try again.';
  return 'Something went wrong. Please try again.';
}

export const networkMessage = NETWORK;
