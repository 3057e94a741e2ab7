import { useCallback, useEffect, useState } from 'react';
import { useClient } from 'urql';
import { explain } from '../errors';
import type { BoardQuery, TaskFieldsFragment } from '../gql/graphql';
import { useLinkState } from '../hooks';
import { BoardQuery as BoardDoc, TaskChangedSubscription } from '../operations';
import { Members } from './Members';
import { Columns } from './Columns';
import { NewTask } from './NewTask';
import { Chat } from './Chat';

const PAGE = 50;
type Board = NonNullable<BoardQuery['board']>;
export type Tasks = Map<string, TaskFieldsFragment>;

/** One board: members, the task columns (live via `taskChanged`) and the board's room. */
export function BoardPage({ boardId }: { boardId: string }) {
  const client = useClient();
  const { reconnects } = useLinkState();
  const [board, setBoard] = useState<Board | null>(null);
  const [tasks, setTasks] = useState<Tasks>(new Map());
  const [next, setNext] = useState<string | null>(null);
  const [total, setTotal] = useState(0);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(
    async (after: string | null) => {
      const r = await client.query(BoardDoc, { id: boardId, first: PAGE, after }).toPromise();
      const b = r.data?.board;
      if (r.error || !b) return setError(explain(r.error) ?? 'This board does not exist.');
      setError(null);
      setBoard(b);
      setTotal(b.tasks.totalCount);
      setNext(b.tasks.pageInfo.hasNextPage ? b.tasks.pageInfo.endCursor ?? null : null);
      setTasks((prev) => {
        const m: Tasks = after ? new Map(prev) : new Map();
        for (const e of b.tasks.edges) m.set(e.node.id, e.node);
        return m;
      });
    },
    [client, boardId],
  );

  // Load, and reload after the WebSocket came back (events may have been missed).
  useEffect(() => {
    void load(null);
  }, [load, reconnects]);

  useEffect(() => {
    const sub = client.subscription(TaskChangedSubscription, { boardId }).subscribe((r) => {
      const ev = r.data?.taskChanged;
      if (!ev) return;
      setTasks((prev) => {
        const m = new Map(prev);
        if (ev.kind === 'DELETED' || !ev.task) m.delete(ev.taskId);
        else m.set(ev.task.id, ev.task);
        return m;
      });
      if (ev.kind === 'CREATED') setTotal((t) => t + 1);
      if (ev.kind === 'DELETED') setTotal((t) => Math.max(0, t - 1));
    });
    return () => sub.unsubscribe();
  }, [client, boardId]);

  const upsert = useCallback((t: TaskFieldsFragment | null, removedId?: string) => {
    setTasks((prev) => {
      const m = new Map(prev);
      if (t) m.set(t.id, t);
      if (removedId) m.delete(removedId);
      return m;
    });
  }, []);

  if (error && !board) {
    return (
      <div className="board-error">
        <h1>Board unavailable</h1>
        <p className="error" role="alert">{error}</p>
        <a href="#/">Back to my boards</a>
      </div>
    );
  }
  if (!board) return <p role="status">Loading board…</p>;

  return (
    <div className="board-page">
      <section className="board-main" aria-labelledby="board-title">
        <div className="board-head">
          <h1 id="board-title">{board.name}</h1>
          {board.description && <p className="muted">{board.description}</p>}
          <p className="muted" data-testid="task-count">{total} {total === 1 ? 'task' : 'tasks'}</p>
        </div>
        {error && <p className="error" role="alert">{error}</p>}
        <Members board={board} onChange={setBoard} />
        <NewTask board={board} onCreated={(t) => upsert(t)} />
        <Columns board={board} tasks={tasks} onChange={upsert} />
        {next && (
          <button type="button" onClick={() => void load(next)}>Load more tasks</button>
        )}
      </section>
      <Chat boardId={board.id} roomName={board.name} members={board.members.map((m) => m.user)} />
    </div>
  );
}
