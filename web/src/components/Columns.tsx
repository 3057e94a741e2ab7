import { useEffect, useRef, useState, type DragEvent, type KeyboardEvent } from 'react';
import { useClient } from 'urql';
import { explain } from '../errors';
import type { BoardSummaryFieldsFragment, TaskFieldsFragment, TaskStatus } from '../gql/graphql';
import { AssignTaskMutation, DeleteTaskMutation, MoveTaskMutation } from '../operations';
import type { Tasks } from './BoardPage';

/** The board's columns, in `TaskStatus` declaration order. */
export const COLUMNS: { status: TaskStatus; label: string }[] = [
  { status: 'TODO', label: 'To do' },
  { status: 'IN_PROGRESS', label: 'In progress' },
  { status: 'IN_REVIEW', label: 'In review' },
  { status: 'DONE', label: 'Done' },
];

const byPosition = (a: TaskFieldsFragment, b: TaskFieldsFragment) => a.position - b.position;

export function Columns({ board, tasks, onChange }: {
  board: BoardSummaryFieldsFragment;
  tasks: Tasks;
  onChange: (t: TaskFieldsFragment | null, removedId?: string) => void;
}) {
  const client = useClient();
  const [error, setError] = useState<string | null>(null);
  const [announcement, setAnnouncement] = useState('');
  const [focusId, setFocusId] = useState<string | null>(null);
  const [dropTarget, setDropTarget] = useState<TaskStatus | null>(null);
  const dragged = useRef<string | null>(null);

  const column = (s: TaskStatus) => [...tasks.values()].filter((t) => t.status === s).sort(byPosition);

  // Keep keyboard focus on a card that moved to another column (it was re-mounted).
  useEffect(() => {
    if (!focusId) return;
    const el = document.querySelector<HTMLElement>(`[data-task-id="${CSS.escape(focusId)}"]`);
    if (!el) return;
    el.focus();
    setFocusId(null);
  }, [focusId, tasks]);

  /** Moves a task before `beforeId` (last when null), optimistically, then as stored. */
  async function move(task: TaskFieldsFragment, status: TaskStatus, beforeId: string | null) {
    if (beforeId === task.id) return;
    const target = column(status).filter((t) => t.id !== task.id);
    const i = beforeId ? target.findIndex((t) => t.id === beforeId) : target.length;
    const prev = target[i - 1]?.position;
    const nextPos = target[i]?.position;
    const position =
      prev !== undefined && nextPos !== undefined ? (prev + nextPos) / 2
        : nextPos !== undefined ? nextPos - 1
          : prev !== undefined ? prev + 1 : 0;
    onChange({ ...task, status, position });
    const label = COLUMNS.find((c) => c.status === status)?.label;
    setAnnouncement(`Moved “${task.title}” to ${label}, position ${i + 1} of ${target.length + 1}.`);
    const r = await client.mutation(MoveTaskMutation, { id: task.id, status, beforeTaskId: beforeId }).toPromise();
    if (r.error || !r.data) {
      onChange(task);
      return setError(explain(r.error));
    }
    setError(null);
    onChange(r.data.moveTask);
  }

  function onKeyDown(e: KeyboardEvent, task: TaskFieldsFragment) {
    if (!e.shiftKey || !e.key.startsWith('Arrow')) return;
    e.preventDefault();
    const col = COLUMNS.findIndex((c) => c.status === task.status);
    const list = column(task.status);
    const idx = list.findIndex((t) => t.id === task.id);
    setFocusId(task.id);
    if (e.key === 'ArrowRight' && col < COLUMNS.length - 1) void move(task, COLUMNS[col + 1].status, null);
    if (e.key === 'ArrowLeft' && col > 0) void move(task, COLUMNS[col - 1].status, null);
    if (e.key === 'ArrowUp' && idx > 0) void move(task, task.status, list[idx - 1].id);
    if (e.key === 'ArrowDown' && idx < list.length - 1) void move(task, task.status, list[idx + 2]?.id ?? null);
  }

  function onDrop(e: DragEvent, status: TaskStatus) {
    e.preventDefault();
    setDropTarget(null);
    const id = dragged.current ?? e.dataTransfer.getData('text/plain');
    dragged.current = null;
    const task = id ? tasks.get(id) : undefined;
    if (!task) return;
    // Before the first card whose middle is below the pointer; last otherwise.
    const cards = [...(e.currentTarget as HTMLElement).querySelectorAll<HTMLElement>('[data-task-id]')]
      .filter((el) => el.dataset.taskId !== id);
    const before = cards.find((el) => {
      const r = el.getBoundingClientRect();
      return e.clientY < r.top + r.height / 2;
    });
    const beforeId = before?.dataset.taskId ?? null;
    const same = task.status === status && column(status).filter((t) => t.id !== id)
      .findIndex((t) => t.id === beforeId) === column(status).findIndex((t) => t.id === id);
    if (!same) void move(task, status, beforeId);
  }

  async function assign(task: TaskFieldsFragment, userId: string) {
    const r = await client.mutation(AssignTaskMutation, { id: task.id, userId: userId || null }).toPromise();
    if (r.error || !r.data) return setError(explain(r.error));
    setError(null);
    onChange(r.data.assignTask);
  }

  async function remove(task: TaskFieldsFragment) {
    const r = await client.mutation(DeleteTaskMutation, { id: task.id }).toPromise();
    if (r.error) return setError(explain(r.error));
    setError(null);
    onChange(null, task.id);
    setAnnouncement(`Deleted “${task.title}”.`);
  }

  return (
    <>
      <p id="move-help" className="muted help">
        Drag cards between columns, or focus a card and press Shift + ← / → to move it to another
        column, Shift + ↑ / ↓ to reorder.
      </p>
      {error && <p className="error" role="alert">{error}</p>}
      <p className="sr-only" aria-live="polite">{announcement}</p>
      <div className="columns">
        {COLUMNS.map(({ status, label }) => {
          const list = column(status);
          return (
            <section key={status} className={`column${dropTarget === status ? ' drop' : ''}`}
              aria-labelledby={`col-${status}`} data-status={status}
              onDragOver={(e) => { e.preventDefault(); e.dataTransfer.dropEffect = 'move'; setDropTarget(status); }}
              onDragLeave={() => setDropTarget((d) => (d === status ? null : d))}
              onDrop={(e) => onDrop(e, status)}>
              <h2 id={`col-${status}`}>{label} <span className="count">{list.length}</span></h2>
              <ul>
                {list.map((t) => (
                  <li key={t.id}>
                    <article className={`task prio-${t.priority.toLowerCase()}`} data-task-id={t.id}
                      tabIndex={0} draggable aria-describedby="move-help"
                      aria-label={`${t.title}, ${label}${t.assignee ? `, assigned to ${t.assignee.name}` : ''}`}
                      onDragStart={(e) => {
                        dragged.current = t.id;
                        e.dataTransfer.setData('text/plain', t.id);
                        e.dataTransfer.effectAllowed = 'move';
                      }}
                      onKeyDown={(e) => onKeyDown(e, t)}>
                      <h3 className="task-title">{t.title}</h3>
                      <p className="task-meta">
                        <span className="prio">{t.priority[0] + t.priority.slice(1).toLowerCase()}</span>
                        {t.labels.map((l) => <span key={l} className="label">{l}</span>)}
                      </p>
                      <div className="task-actions">
                        <label className="sr-only" htmlFor={`assignee-${t.id}`}>Assignee of {t.title}</label>
                        <select id={`assignee-${t.id}`} value={t.assignee?.id ?? ''}
                          onChange={(e) => void assign(t, e.target.value)}>
                          <option value="">Unassigned</option>
                          {board.members.map((m) => <option key={m.user.id} value={m.user.id}>{m.user.name}</option>)}
                        </select>
                        <button type="button" className="small danger" onClick={() => void remove(t)}>
                          Delete<span className="sr-only"> {t.title}</span>
                        </button>
                      </div>
                    </article>
                  </li>
                ))}
              </ul>
            </section>
          );
        })}
      </div>
    </>
  );
}
