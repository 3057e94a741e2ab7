import { Fragment, useCallback, useEffect, useLayoutEffect, useRef, useState, type FormEvent, type ReactNode } from 'react';
import { useClient } from 'urql';
import { explain } from '../errors';
import type { MessageFieldsFragment } from '../gql/graphql';
import { useLinkState, useMe } from '../hooks';
import { BoardRoomQuery, MessageAddedSubscription, RoomMessagesQuery, SendMessageMutation } from '../operations';

const PAGE = 30;

/** The board's room: history paged back from the newest, live messages, @mentions. */
export function Chat({ boardId, roomName, members }: {
  boardId: string;
  roomName: string;
  members: { id: string; name: string }[];
}) {
  const roomId = useBoardRoom(boardId);
  if (!roomId) {
    return (
      <aside className="chat card" aria-labelledby="chat-title">
        <h2 id="chat-title">Chat · {roomName}</h2>
        <p className="muted" role="status">Setting up the chat room…</p>
      </aside>
    );
  }
  return <Room roomId={roomId} roomName={roomName} members={members} />;
}

/**
 * The board's room id. The chat subgraph creates rooms and their membership from board
 * events, a moment after the board changed, so NOT_FOUND/FORBIDDEN are retried for a while.
 */
function useBoardRoom(boardId: string): string | null {
  const client = useClient();
  const [roomId, setRoomId] = useState<string | null>(null);
  useEffect(() => {
    let stop = false;
    let timer: ReturnType<typeof setTimeout>;
    const attempt = async (n: number) => {
      const r = await client.query(BoardRoomQuery, { boardId }).toPromise();
      if (stop) return;
      const id = r.data?.board?.chatRoom.id;
      if (id) return setRoomId(id);
      if (n < 30) timer = setTimeout(() => void attempt(n + 1), Math.min(2_000, 200 * 2 ** n));
    };
    void attempt(0);
    return () => {
      stop = true;
      clearTimeout(timer);
    };
  }, [client, boardId]);
  return roomId;
}

function Room({ roomId, roomName, members }: {
  roomId: string;
  roomName: string;
  members: { id: string; name: string }[];
}) {
  const client = useClient();
  const me = useMe();
  const { reconnects } = useLinkState();
  // Re-subscriptions after the room refused us (membership not synced yet).
  const [retries, setRetries] = useState(0);
  const [messages, setMessages] = useState<MessageFieldsFragment[]>([]);
  const [older, setOlder] = useState<string | null>(null);
  const [body, setBody] = useState('');
  const [error, setError] = useState<string | null>(null);
  const log = useRef<HTMLDivElement>(null);
  const stick = useRef(true);

  const merge = useCallback((incoming: MessageFieldsFragment[]) => {
    setMessages((prev) => {
      const m = new Map(prev.map((x) => [x.id, x]));
      for (const x of incoming) m.set(x.id, x);
      return [...m.values()].sort((a, b) => a.seq - b.seq);
    });
  }, []);

  const load = useCallback(async (before: string | null) => {
    const r = await client.query(RoomMessagesQuery, { roomId, last: PAGE, before }).toPromise();
    const page = r.data?.chatRoom?.messages;
    if (r.error || !page) return setError(explain(r.error) ?? 'Could not load the conversation.');
    setError(null);
    if (before) stick.current = false;
    merge(page.edges.map((e) => e.node));
    if (before || older === null) setOlder(page.pageInfo.hasPreviousPage ? page.pageInfo.startCursor ?? null : null);
  }, [client, roomId, merge, older]);

  useEffect(() => {
    void load(null);
    // Only the room, reconnects and re-subscriptions reload; `load` changes with the cursor.
  }, [client, roomId, reconnects, retries]);

  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const sub = client.subscription(MessageAddedSubscription, { roomId }).subscribe((r) => {
      const m = r.data?.messageAdded;
      if (m) merge([m]);
      if (r.error && retries < 10) timer = setTimeout(() => setRetries((n) => n + 1), 1_000);
    });
    return () => {
      clearTimeout(timer);
      sub.unsubscribe();
    };
  }, [client, roomId, merge, retries]);

  // Follow the newest message unless the reader scrolled up.
  useLayoutEffect(() => {
    const el = log.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  }, [messages]);

  async function send(e: FormEvent) {
    e.preventDefault();
    const text = body.trim();
    if (!text) return;
    stick.current = true;
    const r = await client.mutation(SendMessageMutation, { roomId, body: text }).toPromise();
    if (r.error || !r.data) return setError(explain(r.error));
    setError(null);
    setBody('');
    merge([r.data.sendMessage]);
  }

  const others = members.filter((m) => m.id !== me.id);

  return (
    <aside className="chat card" aria-labelledby="chat-title">
      <h2 id="chat-title">Chat · {roomName}</h2>
      {older && (
        <button type="button" className="small" onClick={() => void load(older)}>Load older messages</button>
      )}
      <div className="messages" ref={log} role="log" aria-label="Messages" tabIndex={0}
        onScroll={(e) => {
          const el = e.currentTarget;
          stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
        }}>
        <ol>
        {messages.length === 0 && <li className="muted">No messages yet. Say hello!</li>}
        {messages.map((m) => (
          <li key={m.id} className={m.author.id === me.id ? 'mine' : ''} data-seq={m.seq}>
            <span className="author">{m.author.name}</span>
            <time dateTime={m.createdAt}>{new Date(m.createdAt).toLocaleTimeString()}</time>
            <p className="body">{highlight(m.body, m.mentions, me.id)}</p>
          </li>
        ))}
        </ol>
      </div>
      {error && <p className="error" role="alert">{error}</p>}
      <form className="composer" onSubmit={send}>
        <label htmlFor="chat-input" className="sr-only">Message</label>
        <input id="chat-input" value={body} onChange={(e) => setBody(e.target.value)} maxLength={4000}
          placeholder="Message…"
          autoComplete="off" />
        <button type="submit" className="primary">Send</button>
      </form>
      {others.length > 0 && (
        <p className="mention-bar">
          <span className="muted">Mention:</span>
          {others.map((m) => (
            <button key={m.id} type="button" className="small"
              onClick={() => setBody((b) => `${b}${b && !b.endsWith(' ') ? ' ' : ''}@${handleOf(m.name)} `)}>
              @{handleOf(m.name)}
            </button>
          ))}
        </p>
      )}
    </aside>
  );
}

/** `@Handle` for a name, as the chat subgraph matches it (letters and digits only). */
export const handleOf = (name: string) => name.replace(/[^\p{L}\p{N}]/gu, '');
const squash = (s: string) => handleOf(s).toLowerCase();

/** Marks each `@handle` that names a mentioned user (resolved by the chat subgraph). */
function highlight(body: string, mentions: { id: string; name: string }[], meId: string): ReactNode {
  if (!mentions.length) return body;
  const parts: ReactNode[] = [];
  let last = 0;
  for (const match of body.matchAll(/(^|[^\p{L}\p{N}_.@-])@([\p{L}\p{N}_.-]+)/gu)) {
    const handle = match[2].replace(/[.-]+$/, '');
    const who = mentions.find((m) => squash(m.name) === squash(handle) || m.id.toLowerCase() === handle.toLowerCase());
    if (!who) continue;
    const start = (match.index ?? 0) + match[1].length;
    parts.push(body.slice(last, start));
    parts.push(<mark key={start} className={who.id === meId ? 'mention me' : 'mention'}>@{handle}</mark>);
    last = start + 1 + handle.length;
  }
  parts.push(body.slice(last));
  return parts.map((p, i) => <Fragment key={i}>{p}</Fragment>);
}
