// The session: the access token lives in memory only; the refresh token is kept in
// sessionStorage (this tab only) so a reload survives. Access tokens are renewed a minute
// before they expire and whenever a request fails UNAUTHENTICATED; refresh tokens are
// single-use and rotate on every renewal, so renewals are single-flight.
import type { TypedDocumentNode } from '@urql/core';
import { persistedId } from './persisted';
import { UserFacingError, explainErrors, networkMessage } from './errors';
import {
  RefreshSessionMutation,
  SignInMutation,
  SignOutMutation,
  SignUpMutation,
} from './operations';
import type { AuthFieldsFragment } from './gql/graphql';

export interface Session {
  accessToken: string;
  refreshToken: string;
  expiresAt: number;
  user: { id: string; name: string; email?: string | null };
}

const STORAGE_KEY = 'platform.refreshToken';
const RENEW_BEFORE_MS = 60_000;

type Listener = (session: Session | null, reason?: string) => void;

/** POSTs one operation as JSON (a preflighted request, as the router's CSRF rule wants), by
 * its persisted id: the router knows every operation of this UI from its manifest. */
export async function postGraphQL<R, V>(
  doc: TypedDocumentNode<R, V>,
  variables: V,
  context?: 'sign-in',
): Promise<R> {
  let res: Response;
  try {
    res = await fetch('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' },
      body: JSON.stringify({
        variables,
        extensions: { persistedQuery: { version: 1, sha256Hash: persistedId(doc) } },
      }),
    });
  } catch {
    throw new UserFacingError(networkMessage, 'network');
  }
  const body = (await res.json().catch(() => null)) as
    | { data?: R | null; errors?: { message: string; extensions?: Record<string, unknown> }[] }
    | null;
  if (body?.errors?.length) throw explainErrors(body.errors, context);
  // A proxy or load balancer answering for a router that is down.
  if (!body && res.status >= 502 && res.status <= 504) throw new UserFacingError(networkMessage, 'network');
  if (res.status === 429) throw new UserFacingError('Too many attempts. Wait a minute, then try again.', 'rate-limited');
  if (!body?.data) throw new UserFacingError('Something went wrong on our side. Please try again.', 'server');
  return body.data;
}

class Auth {
  session: Session | null = null;
  private listeners = new Set<Listener>();
  private renewing: Promise<Session | null> | null = null;
  private timer: ReturnType<typeof setTimeout> | undefined;

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async signIn(email: string, password: string): Promise<void> {
    const data = await postGraphQL(SignInMutation, { email, password }, 'sign-in');
    this.set(data.signIn);
  }

  async signUp(name: string, email: string, password: string): Promise<void> {
    const data = await postGraphQL(SignUpMutation, { input: { name, email, password } });
    this.set(data.signUp);
  }

  async signOut(): Promise<void> {
    const token = this.session?.refreshToken;
    this.clear();
    if (token) await postGraphQL(SignOutMutation, { refreshToken: token }).catch(() => undefined);
  }

  /** Resumes the tab's session after a reload, if it kept a refresh token. */
  async resume(): Promise<void> {
    if (sessionStorage.getItem(STORAGE_KEY)) await this.renew();
  }

  /** A token valid for at least a little while, renewing first when needed. */
  async validToken(): Promise<string | null> {
    if (this.session && this.session.expiresAt - Date.now() > 30_000) return this.session.accessToken;
    const s = await this.renew();
    return s?.accessToken ?? null;
  }

  expiresSoon(): boolean {
    return !!this.session && this.session.expiresAt - Date.now() < 30_000;
  }

  /** Exchanges the refresh token for a new pair, once however many callers ask. */
  renew(): Promise<Session | null> {
    this.renewing ??= this.doRenew().finally(() => {
      this.renewing = null;
    });
    return this.renewing;
  }

  private async doRenew(): Promise<Session | null> {
    const refreshToken = this.session?.refreshToken ?? sessionStorage.getItem(STORAGE_KEY);
    if (!refreshToken) return null;
    try {
      const data = await postGraphQL(RefreshSessionMutation, { refreshToken });
      this.set(data.refreshSession);
      return this.session;
    } catch (e) {
      if (e instanceof UserFacingError && (e.kind === 'network' || e.kind === 'rate-limited')) {
        // Keep the session; the next request or the timer tries again.
        this.schedule(15_000);
        return this.session;
      }
      this.clear('Your session has ended. Please sign in again.');
      return null;
    }
  }

  private set(payload: AuthFieldsFragment) {
    const previousUser = this.session?.user.id;
    this.session = {
      accessToken: payload.accessToken,
      refreshToken: payload.refreshToken,
      expiresAt: Date.parse(payload.expiresAt),
      user: payload.user,
    };
    sessionStorage.setItem(STORAGE_KEY, payload.refreshToken);
    this.schedule(Math.max(5_000, this.session.expiresAt - Date.now() - RENEW_BEFORE_MS));
    // Listeners care about who is signed in, not about each renewal.
    if (previousUser !== payload.user.id) this.emit();
  }

  private schedule(ms: number) {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.renew(), ms);
  }

  private clear(reason?: string) {
    clearTimeout(this.timer);
    this.session = null;
    sessionStorage.removeItem(STORAGE_KEY);
    this.emit(reason);
  }

  private emit(reason?: string) {
    for (const l of this.listeners) l(this.session, reason);
  }
}

export const auth = new Auth();
