import { useCallback, useEffect, useRef, useState } from 'react';
import { useClient } from 'urql';
import { explain } from '../errors';
import { BOARDS_CHANGED, bus } from '../events';
import { useLinkState } from '../hooks';
import type { NotificationFieldsFragment } from '../gql/graphql';
import {
  MarkAllNotificationsReadMutation,
  MarkNotificationReadMutation,
  NotificationAddedSubscription,
  NotificationsQuery,
} from '../operations';

const PAGE = 10;

/** The unread count and the inbox, kept live by `notificationAdded`. */
export function Bell() {
  const client = useClient();
  const { reconnects } = useLinkState();
  const [open, setOpen] = useState(false);
  const [unread, setUnread] = useState(0);
  const [items, setItems] = useState<NotificationFieldsFragment[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const panel = useRef<HTMLDivElement>(null);

  const load = useCallback(
    async (after: string | null) => {
      const r = await client.query(NotificationsQuery, { first: PAGE, after }).toPromise();
      if (r.error || !r.data) return setError(explain(r.error) ?? 'Could not load notifications.');
      setError(null);
      const d = r.data;
      setUnread(d.me?.unreadNotificationCount ?? 0);
      const nodes = d.notifications.edges.map((e) => e.node);
      setItems((prev) => (after ? dedupe([...prev, ...nodes]) : nodes));
      setNext(d.notifications.pageInfo.hasNextPage ? d.notifications.pageInfo.endCursor ?? null : null);
    },
    [client],
  );

  // First load, and again after a reconnect (events may have been missed meanwhile).
  useEffect(() => {
    void load(null);
    if (reconnects > 0) bus.dispatchEvent(new Event(BOARDS_CHANGED));
  }, [load, reconnects]);

  useEffect(() => {
    const sub = client.subscription(NotificationAddedSubscription, {}).subscribe((r) => {
      const n = r.data?.notificationAdded;
      if (!n) return;
      setItems((prev) => (prev.some((p) => p.id === n.id) ? prev : [n, ...prev]));
      if (!n.read) setUnread((u) => u + 1);
      if (n.kind === 'BOARD_MEMBER_ADDED' || n.kind === 'TASK_ASSIGNED') {
        bus.dispatchEvent(new Event(BOARDS_CHANGED));
      }
    });
    return () => sub.unsubscribe();
  }, [client]);

  useEffect(() => {
    if (!open) return;
    const onKey = (e: KeyboardEvent) => e.key === 'Escape' && setOpen(false);
    const onClick = (e: MouseEvent) => {
      const root = panel.current?.parentElement;
      if (root && !root.contains(e.target as Node)) setOpen(false);
    };
    document.addEventListener('keydown', onKey);
    document.addEventListener('mousedown', onClick);
    return () => {
      document.removeEventListener('keydown', onKey);
      document.removeEventListener('mousedown', onClick);
    };
  }, [open]);

  async function markRead(id: string) {
    const r = await client.mutation(MarkNotificationReadMutation, { id }).toPromise();
    if (r.error) return setError(explain(r.error));
    setItems((prev) => prev.map((n) => (n.id === id ? { ...n, read: true } : n)));
    setUnread((u) => Math.max(0, u - 1));
  }

  async function markAll() {
    const r = await client.mutation(MarkAllNotificationsReadMutation, {}).toPromise();
    if (r.error) return setError(explain(r.error));
    setItems((prev) => prev.map((n) => ({ ...n, read: true })));
    setUnread(0);
  }

  return (
    <div className="bell">
      <button type="button" className="bell-button" aria-expanded={open} aria-controls="notifications"
        aria-label={`Notifications, ${unread} unread`} onClick={() => setOpen((o) => !o)}>
        <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true" fill="none" stroke="currentColor" strokeWidth="2">
          <path d="M18 8a6 6 0 0 0-12 0c0 7-3 9-3 9h18s-3-2-3-9M13.7 21a2 2 0 0 1-3.4 0" />
        </svg>
        <span className={`badge${unread ? '' : ' badge-zero'}`} data-testid="unread-count">{unread}</span>
      </button>
      {open && (
        <div className="bell-panel card" id="notifications" ref={panel} role="region" aria-label="Notifications">
          <div className="bell-head">
            <h2>Notifications</h2>
            <button type="button" onClick={() => void markAll()} disabled={unread === 0}>Mark all read</button>
          </div>
          {error && <p className="error" role="alert">{error}</p>}
          {items.length === 0 && <p className="muted">Nothing yet.</p>}
          <ul className="notifications">
            {items.map((n) => (
              <li key={n.id} className={n.read ? 'read' : 'unread'}>
                {n.board ? (
                  <a href={`#/boards/${n.board.id}`} onClick={() => setOpen(false)}>{n.text}</a>
                ) : (
                  <span>{n.text}</span>
                )}
                <time dateTime={n.createdAt}>{new Date(n.createdAt).toLocaleString()}</time>
                {!n.read && (
                  <button type="button" className="small" onClick={() => void markRead(n.id)}>
                    Mark read<span className="sr-only">: {n.text}</span>
                  </button>
                )}
              </li>
            ))}
          </ul>
          {next && <button type="button" onClick={() => void load(next)}>Load more</button>}
        </div>
      )}
    </div>
  );
}

function dedupe<T extends { id: string }>(list: T[]): T[] {
  const seen = new Set<string>();
  return list.filter((x) => (seen.has(x.id) ? false : (seen.add(x.id), true)));
}
