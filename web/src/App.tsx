import { useEffect, useState } from 'react';
import { Provider } from 'urql';
import { auth, type Session } from './auth';
import { createPlatformClient } from './client';
import { LinkContext, SessionContext, useHashRoute } from './hooks';
import { AuthScreen } from './components/AuthScreen';
import { Header } from './components/Header';
import { BoardsPage } from './components/BoardsPage';
import { BoardPage } from './components/BoardPage';

export function App() {
  const [session, setSession] = useState<Session | null>(auth.session);
  const [resuming, setResuming] = useState(true);
  const [notice, setNotice] = useState<string | null>(null);

  useEffect(() => {
    const off = auth.subscribe((s, reason) => {
      setSession(s);
      if (reason) setNotice(reason);
    });
    void auth.resume().finally(() => setResuming(false));
    return () => {
      off();
    };
  }, []);

  if (resuming) return <p className="loading" role="status">Loading…</p>;
  if (!session) return <AuthScreen notice={notice} />;
  return <SignedIn key={session.user.id} session={session} />;
}

function SignedIn({ session }: { session: Session }) {
  const [platform, setPlatform] = useState<ReturnType<typeof createPlatformClient> | null>(null);
  useEffect(() => {
    const p = createPlatformClient();
    setPlatform(p);
    return () => p.dispose();
  }, []);
  const route = useHashRoute();
  const boardId = /^\/boards\/([^/]+)$/.exec(route)?.[1];
  if (!platform) return null;

  return (
    <Provider value={platform.client}>
      <LinkContext.Provider value={platform.link}>
        <SessionContext.Provider value={session}>
          <Header />
          <main id="main">
            {boardId ? <BoardPage key={boardId} boardId={decodeURIComponent(boardId)} /> : <BoardsPage />}
          </main>
        </SessionContext.Provider>
      </LinkContext.Provider>
    </Provider>
  );
}
