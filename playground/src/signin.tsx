import { useState, type FormEvent } from 'react';
import { useGraphiQL, type GraphiQLPlugin } from '@graphiql/react';

/** The helper's session: requests without their own Authorization header use its token. */
export const session: { token: string | null; name: string | null } = { token: null, name: null };

const SIGN_IN = `mutation SignIn($email: String!, $password: String!) {
  signIn(email: $email, password: $password) { accessToken expiresAt user { id name } }
}`;
const SIGN_UP = `mutation SignUp($input: SignUpInput!) {
  signUp(input: $input) { accessToken expiresAt user { id name } }
}`;

interface Auth { accessToken: string; expiresAt: string; user: { id: string; name: string } }
interface GqlError { message: string; extensions?: { code?: string } }

function explain(status: number, errors: GqlError[] | undefined): string {
  const code = errors?.[0]?.extensions?.code;
  if (status === 429 || code === 'RATE_LIMITED') return 'Too many attempts: wait a minute and try again.';
  if (code === 'UNAUTHENTICATED') return 'Wrong email or password.';
  if (errors?.length) return errors[0].message;
  return `The server answered HTTP ${status}.`;
}

async function call(query: string, variables: object): Promise<Auth> {
  let res: Response;
  try {
    res = await fetch('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query, variables }),
    });
  } catch {
    throw new Error('Cannot reach the server.');
  }
  const body = (await res.json().catch(() => ({}))) as {
    data?: Record<string, Auth | null>;
    errors?: GqlError[];
  };
  const payload = body.data && Object.values(body.data)[0];
  if (!payload) throw new Error(explain(res.status, body.errors));
  return payload;
}

function SignInPane() {
  const headerEditor = useGraphiQL((s) => s.headerEditor);
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [name, setName] = useState('');
  const [status, setStatus] = useState<string>(
    session.name ? `Signed in as ${session.name}.` : 'Not signed in.',
  );
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent<HTMLFormElement>, signUp: boolean) {
    e.preventDefault();
    setBusy(true);
    try {
      const auth = signUp
        ? await call(SIGN_UP, { input: { email, password, name: name || email.split('@')[0] } })
        : await call(SIGN_IN, { email, password });
      session.token = auth.accessToken;
      session.name = auth.user.name;
      headerEditor?.setValue(JSON.stringify({ Authorization: `Bearer ${auth.accessToken}` }, null, 2));
      const until = new Date(auth.expiresAt).toLocaleTimeString();
      setStatus(`Signed in as ${auth.user.name} (token valid until ${until}).`);
    } catch (err) {
      setStatus((err as Error).message);
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="pg-signin">
      <div className="graphiql-doc-explorer-title">Sign in</div>
      <p>
        Puts <code>{'{"Authorization": "Bearer …"}'}</code> into the Headers editor of this tab;
        tabs without an Authorization header use the same token (also for subscriptions).
      </p>
      <form onSubmit={(e) => submit(e, (e.nativeEvent as SubmitEvent).submitter?.id === 'pg-signup')}>
        <label htmlFor="pg-email">Email</label>
        <input id="pg-email" type="email" autoComplete="username" required value={email}
          onChange={(e) => setEmail(e.target.value)} />
        <label htmlFor="pg-password">Password</label>
        <input id="pg-password" type="password" autoComplete="current-password" required
          value={password} onChange={(e) => setPassword(e.target.value)} />
        <label htmlFor="pg-name">Name (sign-up only)</label>
        <input id="pg-name" type="text" autoComplete="name" value={name}
          onChange={(e) => setName(e.target.value)} />
        <div className="pg-buttons">
          <button type="submit" id="pg-signin" disabled={busy}>Sign in</button>
          <button type="submit" id="pg-signup" disabled={busy}>Sign up</button>
        </div>
      </form>
      <p role="status" className="pg-status">{status}</p>
    </div>
  );
}

function KeyIcon() {
  return (
    <svg viewBox="0 0 24 24" width="20" height="20" fill="none" stroke="currentColor"
      strokeWidth="1.5" aria-hidden="true">
      <circle cx="8" cy="15" r="4" />
      <path d="M11 12l9-9M17 6l3 3M15 8l2 2" />
    </svg>
  );
}

export const signInPlugin: GraphiQLPlugin = { title: 'Sign in', icon: KeyIcon, content: SignInPane };
