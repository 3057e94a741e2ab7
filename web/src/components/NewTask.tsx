import { useState, type FormEvent } from 'react';
import { useClient } from 'urql';
import { explain } from '../errors';
import type { BoardSummaryFieldsFragment, TaskFieldsFragment, TaskPriority, TaskStatus } from '../gql/graphql';
import { CreateTaskMutation } from '../operations';
import { COLUMNS } from './Columns';

const PRIORITIES: TaskPriority[] = ['LOW', 'MEDIUM', 'HIGH', 'URGENT'];

export function NewTask({ board, onCreated }: {
  board: BoardSummaryFieldsFragment;
  onCreated: (t: TaskFieldsFragment) => void;
}) {
  const client = useClient();
  const [title, setTitle] = useState('');
  const [status, setStatus] = useState<TaskStatus>('TODO');
  const [priority, setPriority] = useState<TaskPriority>('MEDIUM');
  const [assigneeId, setAssigneeId] = useState('');
  const [error, setError] = useState<string | null>(null);

  async function submit(e: FormEvent) {
    e.preventDefault();
    const r = await client.mutation(CreateTaskMutation, {
      input: { boardId: board.id, title: title.trim(), status, priority, assigneeId: assigneeId || null },
    }).toPromise();
    if (r.error || !r.data) return setError(explain(r.error));
    setError(null);
    setTitle('');
    onCreated(r.data.createTask);
  }

  return (
    <form className="new-task card" onSubmit={submit} aria-labelledby="new-task-title">
      <h2 id="new-task-title">New task</h2>
      <div className="fields">
        <span className="field grow">
          <label htmlFor="task-title">Title</label>
          <input id="task-title" required maxLength={200} value={title} onChange={(e) => setTitle(e.target.value)} />
        </span>
        <span className="field">
          <label htmlFor="task-status">Column</label>
          <select id="task-status" value={status} onChange={(e) => setStatus(e.target.value as TaskStatus)}>
            {COLUMNS.map((c) => <option key={c.status} value={c.status}>{c.label}</option>)}
          </select>
        </span>
        <span className="field">
          <label htmlFor="task-priority">Priority</label>
          <select id="task-priority" value={priority} onChange={(e) => setPriority(e.target.value as TaskPriority)}>
            {PRIORITIES.map((p) => <option key={p} value={p}>{p[0] + p.slice(1).toLowerCase()}</option>)}
          </select>
        </span>
        <span className="field">
          <label htmlFor="task-assignee">Assignee</label>
          <select id="task-assignee" value={assigneeId} onChange={(e) => setAssigneeId(e.target.value)}>
            <option value="">Nobody</option>
            {board.members.map((m) => <option key={m.user.id} value={m.user.id}>{m.user.name}</option>)}
          </select>
        </span>
        <button type="submit" className="primary">Add task</button>
      </div>
      {error && <p className="error" role="alert">{error}</p>}
    </form>
  );
}
