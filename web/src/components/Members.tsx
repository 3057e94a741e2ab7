import { useState, type FormEvent } from 'react';
import { useClient } from 'urql';
import { explain } from '../errors';
import type { BoardSummaryFieldsFragment } from '../gql/graphql';
import { useMe } from '../hooks';
import { AddBoardMemberMutation, RemoveBoardMemberMutation, SearchUsersQuery } from '../operations';

type Board = BoardSummaryFieldsFragment;

/** Members with their roles; adding by email (looked up with searchUsers) or by user id. */
export function Members<B extends Board>({ board, onChange }: { board: B; onChange: (b: B) => void }) {
  const client = useClient();
  const me = useMe();
  const [who, setWho] = useState('');
  const [message, setMessage] = useState<{ text: string; error: boolean } | null>(null);
  const isOwner = board.owner.id === me.id;

  async function resolveUser(input: string): Promise<{ id: string; name?: string } | string> {
    if (!input.includes('@')) return { id: input };
    const r = await client.query(SearchUsersQuery, { query: input }).toPromise();
    if (r.error) return explain(r.error) ?? 'Search failed.';
    const found = r.data?.searchUsers ?? [];
    if (found.length === 0) return `Nobody has signed up with ${input}.`;
    if (found.length > 1) return `Several people match ${input}; type the whole address.`;
    return found[0];
  }

  async function add(e: FormEvent) {
    e.preventDefault();
    const input = who.trim();
    if (!input) return;
    const user = await resolveUser(input);
    if (typeof user === 'string') return setMessage({ text: user, error: true });
    const r = await client.mutation(AddBoardMemberMutation, { boardId: board.id, userId: user.id }).toPromise();
    if (r.error || !r.data) return setMessage({ text: explain(r.error) ?? 'Could not add.', error: true });
    onChange({ ...board, ...r.data.addBoardMember });
    const added = r.data.addBoardMember.members.find((m) => m.user.id === user.id);
    setMessage({ text: `${added?.user.name ?? 'They'} can now see this board.`, error: false });
    setWho('');
  }

  async function remove(userId: string) {
    const r = await client.mutation(RemoveBoardMemberMutation, { boardId: board.id, userId }).toPromise();
    if (r.error || !r.data) return setMessage({ text: explain(r.error) ?? 'Could not remove.', error: true });
    onChange({ ...board, ...r.data.removeBoardMember });
  }

  return (
    <section className="members card" aria-labelledby="members-title">
      <h2 id="members-title">Members</h2>
      <ul className="member-list">
        {board.members.map((m) => (
          <li key={m.user.id} data-testid="member">
            <span className="avatar" aria-hidden="true">{m.user.name.slice(0, 1).toUpperCase()}</span>
            <span>{m.user.name}{m.user.id === me.id ? ' (you)' : ''}</span>
            <span className={`role role-${m.role.toLowerCase()}`}>{m.role === 'OWNER' ? 'Owner' : 'Member'}</span>
            {isOwner && m.role !== 'OWNER' && (
              <button type="button" className="small" onClick={() => void remove(m.user.id)}>
                Remove<span className="sr-only"> {m.user.name}</span>
              </button>
            )}
          </li>
        ))}
      </ul>
      <form className="inline-form" onSubmit={add}>
        <label htmlFor="add-member">Add a member by email or user id</label>
        <input id="add-member" value={who} onChange={(e) => setWho(e.target.value)} placeholder="bob@example.com" />
        <button type="submit">Add member</button>
      </form>
      {message && (
        <p className={message.error ? 'error' : 'ok'} role={message.error ? 'alert' : 'status'}>{message.text}</p>
      )}
    </section>
  );
}
