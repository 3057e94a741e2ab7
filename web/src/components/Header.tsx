import { auth } from '../auth';
import { useLinkState, useMe } from '../hooks';
import { Bell } from './Bell';

const LABEL = { connecting: 'Connecting…', live: 'Live', reconnecting: 'Reconnecting…' } as const;

export function Header() {
  const me = useMe();
  const { status } = useLinkState();
  return (
    <header className="topbar">
      <a className="brand" href="#/">Platform</a>
      <nav aria-label="Main">
        <a href="#/">My boards</a>
      </nav>
      <span className={`link link-${status}`} role="status" data-testid="connection">
        <span className="dot" aria-hidden="true" />
        {LABEL[status]}
      </span>
      <Bell />
      <span className="me" data-testid="me">{me.name}</span>
      <button type="button" onClick={() => void auth.signOut()}>Sign out</button>
    </header>
  );
}
