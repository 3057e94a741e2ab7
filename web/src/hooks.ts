import { createContext, useContext, useEffect, useState, useSyncExternalStore } from 'react';
import type { Link } from './client';
import type { Session } from './auth';

export const LinkContext = createContext<Link | null>(null);
export const SessionContext = createContext<Session | null>(null);

export function useLink(): Link {
  const link = useContext(LinkContext);
  if (!link) throw new Error('LinkContext missing');
  return link;
}

/** The WebSocket status and reconnect count, re-rendering on change. */
export function useLinkState(): { status: Link['status']; reconnects: number } {
  const link = useLink();
  const status = useSyncExternalStore(link.subscribe, () => link.status);
  const reconnects = useSyncExternalStore(link.subscribe, () => link.reconnects);
  return { status, reconnects };
}

export function useMe(): Session['user'] {
  const s = useContext(SessionContext);
  if (!s) throw new Error('SessionContext missing');
  return s.user;
}

/** The hash route: `#/` (boards), `#/boards/<id>`, `#/signup`. */
export function useHashRoute(): string {
  const [route, setRoute] = useState(() => window.location.hash.slice(1) || '/');
  useEffect(() => {
    const on = () => setRoute(window.location.hash.slice(1) || '/');
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return route;
}
