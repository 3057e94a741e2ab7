import { useState, type FormEvent } from 'react';
import { auth } from '../auth';
import { UserFacingError } from '../errors';
import { useHashRoute } from '../hooks';

export function AuthScreen({ notice }: { notice: string | null }) {
  const signUp = useHashRoute() === '/signup';
  const [name, setName] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      if (signUp) await auth.signUp(name.trim(), email.trim(), password);
      else await auth.signIn(email.trim(), password);
      window.location.hash = '#/';
    } catch (err) {
      setError(err instanceof UserFacingError ? err.message : 'Something went wrong. Please try again.');
    } finally {
      setBusy(false);
    }
  }

  return (
    <main id="main" className="auth">
      <form className="card auth-card" onSubmit={submit} aria-labelledby="auth-title">
        <h1 id="auth-title">{signUp ? 'Create your account' : 'Sign in'}</h1>
        {notice && !error && <p className="notice" role="status">{notice}</p>}
        {signUp && (
          <>
            <label htmlFor="name">Name</label>
            <input id="name" autoComplete="name" required value={name} onChange={(e) => setName(e.target.value)} />
          </>
        )}
        <label htmlFor="email">Email</label>
        <input id="email" type="email" autoComplete="email" required value={email}
          onChange={(e) => setEmail(e.target.value)} />
        <label htmlFor="password">Password</label>
        <input id="password" type="password" required minLength={signUp ? 10 : undefined}
          autoComplete={signUp ? 'new-password' : 'current-password'} value={password}
          onChange={(e) => setPassword(e.target.value)} />
        {error && <p className="error" role="alert">{error}</p>}
        <button type="submit" className="primary" disabled={busy}>
          {signUp ? 'Sign up' : 'Sign in'}
        </button>
        <p className="switch">
          {signUp ? (
            <>Already have an account? <a href="#/">Sign in</a></>
          ) : (
            <>New here? <a href="#/signup">Create an account</a></>
          )}
        </p>
      </form>
    </main>
  );
}
