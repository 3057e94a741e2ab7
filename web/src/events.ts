/** App-wide signals that are not data: "the set of my boards may have changed". */
export const bus = new EventTarget();
export const BOARDS_CHANGED = 'boards-changed';
