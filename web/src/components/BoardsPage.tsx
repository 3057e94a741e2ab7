import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { useClient } from 'urql';
import { explain } from '../errors';
import { BOARDS_CHANGED, bus } from '../events';
import type { BoardSummaryFieldsFragment } from '../gql/graphql';
import { useMe } from '../hooks';
import { CreateBoardMutation, MyBoardsQuery } from '../operations';

export function BoardsPage() {
  const client = useClient();
  const me = useMe();
  const [boards, setBoards] = useState<BoardSummaryFieldsFragment[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [formError, setFormError] = useState<string | null>(null);

  const load = useCallback(async () => {
    const r = await client.query(MyBoardsQuery, {}).toPromise();
    if (r.error || !r.data) return setError(explain(r.error) ?? 'Could not load your boards.');
    setError(null);
    setBoards(r.data.myBoards);
  }, [client]);

  useEffect(() => {
    void load();
    const on = () => void load();
    bus.addEventListener(BOARDS_CHANGED, on);
    return () => bus.removeEventListener(BOARDS_CHANGED, on);
  }, [load]);

  async function create(e: FormEvent) {
    e.preventDefault();
    const r = await client
      .mutation(CreateBoardMutation, { input: { name: name.trim(), description: description.trim() || null } })
      .toPromise();
    if (r.error || !r.data) return setFormError(explain(r.error));
    setFormError(null);
    setName('');
    setDescription('');
    window.location.hash = `#/boards/${r.data.createBoard.id}`;
  }

  return (
    <div className="boards-page">
      <h1>My boards</h1>
      {error && <p className="error" role="alert">{error}</p>}
      {boards === null && !error && <p role="status">Loading…</p>}
      {boards?.length === 0 && <p className="muted">No boards yet: create one below.</p>}
      <ul className="board-list" aria-label="Boards">
        {boards?.map((b) => (
          <li key={b.id} className="card">
            <a href={`#/boards/${b.id}`} className="board-link">{b.name}</a>
            {b.description && <p>{b.description}</p>}
            <p className="muted">
              {b.owner.id === me.id ? 'Owner' : `Owner: ${b.owner.name}`} · {b.members.length}{' '}
              {b.members.length === 1 ? 'member' : 'members'}
            </p>
          </li>
        ))}
      </ul>
      <form className="card create-board" onSubmit={create} aria-labelledby="create-board-title">
        <h2 id="create-board-title">Create a board</h2>
        <label htmlFor="board-name">Name</label>
        <input id="board-name" required maxLength={100} value={name} onChange={(e) => setName(e.target.value)} />
        <label htmlFor="board-description">Description (optional)</label>
        <input id="board-description" value={description} onChange={(e) => setDescription(e.target.value)} />
        {formError && <p className="error" role="alert">{formError}</p>}
        <button type="submit" className="primary">Create board</button>
      </form>
    </div>
  );
}
