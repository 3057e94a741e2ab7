// Every operation the UI sends. `npm run codegen` types them (src/gql/) and lists them in
// the persisted-document manifest.
import { graphql } from './gql';

export const AuthFields = graphql(`
  fragment AuthFields on AuthPayload {
    accessToken
    refreshToken
    expiresAt
    user { id name email }
  }
`);

export const SignUpMutation = graphql(`
  mutation SignUp($input: SignUpInput!) { signUp(input: $input) { ...AuthFields } }
`);

export const SignInMutation = graphql(`
  mutation SignIn($email: String!, $password: String!) {
    signIn(email: $email, password: $password) { ...AuthFields }
  }
`);

export const RefreshSessionMutation = graphql(`
  mutation RefreshSession($refreshToken: String!) {
    refreshSession(refreshToken: $refreshToken) { ...AuthFields }
  }
`);

export const SignOutMutation = graphql(`
  mutation SignOut($refreshToken: String!) { signOut(refreshToken: $refreshToken) }
`);

export const BoardSummaryFields = graphql(`
  fragment BoardSummaryFields on Board {
    id
    name
    description
    owner { id name }
    members { role user { id name } }
  }
`);

export const MyBoardsQuery = graphql(`
  query MyBoards { myBoards { ...BoardSummaryFields } }
`);

export const CreateBoardMutation = graphql(`
  mutation CreateBoard($input: CreateBoardInput!) { createBoard(input: $input) { ...BoardSummaryFields } }
`);

export const TaskFields = graphql(`
  fragment TaskFields on Task {
    id
    title
    description
    status
    priority
    position
    labels
    assignee { id name }
    creator { id name }
    updatedAt
  }
`);

export const BoardQuery = graphql(`
  query Board($id: ID!, $first: Int!, $after: String) {
    board(id: $id) {
      ...BoardSummaryFields
      tasks(first: $first, after: $after) {
        totalCount
        pageInfo { hasNextPage endCursor }
        edges { cursor node { ...TaskFields } }
      }
    }
  }
`);

// Separate from BoardQuery: the chat subgraph creates a board's room from the BoardCreated
// event, so right after createBoard the room may not exist yet (NOT_FOUND), which would null
// the whole board.
export const BoardRoomQuery = graphql(`
  query BoardRoom($boardId: ID!) { board(id: $boardId) { id chatRoom { id name } } }
`);

export const SearchUsersQuery = graphql(`
  query SearchUsers($query: String!) { searchUsers(query: $query, first: 5) { id name } }
`);

export const AddBoardMemberMutation = graphql(`
  mutation AddBoardMember($boardId: ID!, $userId: ID!) {
    addBoardMember(boardId: $boardId, userId: $userId) { ...BoardSummaryFields }
  }
`);

export const RemoveBoardMemberMutation = graphql(`
  mutation RemoveBoardMember($boardId: ID!, $userId: ID!) {
    removeBoardMember(boardId: $boardId, userId: $userId) { ...BoardSummaryFields }
  }
`);

export const CreateTaskMutation = graphql(`
  mutation CreateTask($input: CreateTaskInput!) { createTask(input: $input) { ...TaskFields } }
`);

export const MoveTaskMutation = graphql(`
  mutation MoveTask($id: ID!, $status: TaskStatus!, $beforeTaskId: ID) {
    moveTask(id: $id, status: $status, beforeTaskId: $beforeTaskId) { ...TaskFields }
  }
`);

export const AssignTaskMutation = graphql(`
  mutation AssignTask($id: ID!, $userId: ID) { assignTask(id: $id, userId: $userId) { ...TaskFields } }
`);

export const DeleteTaskMutation = graphql(`
  mutation DeleteTask($id: ID!) { deleteTask(id: $id) }
`);

export const TaskChangedSubscription = graphql(`
  subscription TaskChanged($boardId: ID!) {
    taskChanged(boardId: $boardId) {
      kind
      taskId
      task { ...TaskFields }
      actor { id name }
    }
  }
`);

export const MessageFields = graphql(`
  fragment MessageFields on Message {
    id
    seq
    body
    createdAt
    author { id name }
    mentions { id name }
  }
`);

export const RoomMessagesQuery = graphql(`
  query RoomMessages($roomId: ID!, $last: Int!, $before: String) {
    chatRoom(id: $roomId) {
      id
      messages(last: $last, before: $before) {
        pageInfo { hasPreviousPage startCursor }
        edges { cursor node { ...MessageFields } }
      }
    }
  }
`);

export const SendMessageMutation = graphql(`
  mutation SendMessage($roomId: ID!, $body: String!) {
    sendMessage(roomId: $roomId, body: $body) { ...MessageFields }
  }
`);

export const MessageAddedSubscription = graphql(`
  subscription MessageAdded($roomId: ID!) { messageAdded(roomId: $roomId) { ...MessageFields } }
`);

export const NotificationFields = graphql(`
  fragment NotificationFields on Notification {
    id
    kind
    text
    read
    createdAt
    board { id }
  }
`);

export const NotificationsQuery = graphql(`
  query Notifications($first: Int!, $after: String) {
    me { id unreadNotificationCount }
    notifications(first: $first, after: $after) {
      pageInfo { hasNextPage endCursor }
      edges { cursor node { ...NotificationFields } }
    }
  }
`);

export const MarkNotificationReadMutation = graphql(`
  mutation MarkNotificationRead($id: ID!) { markNotificationRead(id: $id) { id read } }
`);

export const MarkAllNotificationsReadMutation = graphql(`
  mutation MarkAllNotificationsRead { markAllNotificationsRead }
`);

export const NotificationAddedSubscription = graphql(`
  subscription NotificationAdded { notificationAdded { ...NotificationFields } }
`);
