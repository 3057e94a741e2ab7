/* eslint-disable */
import * as types from './graphql';
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "\n  fragment AuthFields on AuthPayload {\n    accessToken\n    refreshToken\n    expiresAt\n    user { id name email }\n  }\n": typeof types.AuthFieldsFragmentDoc,
    "\n  mutation SignUp($input: SignUpInput!) { signUp(input: $input) { ...AuthFields } }\n": typeof types.SignUpDocument,
    "\n  mutation SignIn($email: String!, $password: String!) {\n    signIn(email: $email, password: $password) { ...AuthFields }\n  }\n": typeof types.SignInDocument,
    "\n  mutation RefreshSession($refreshToken: String!) {\n    refreshSession(refreshToken: $refreshToken) { ...AuthFields }\n  }\n": typeof types.RefreshSessionDocument,
    "\n  mutation SignOut($refreshToken: String!) { signOut(refreshToken: $refreshToken) }\n": typeof types.SignOutDocument,
    "\n  fragment BoardSummaryFields on Board {\n    id\n    name\n    description\n    owner { id name }\n    members { role user { id name } }\n  }\n": typeof types.BoardSummaryFieldsFragmentDoc,
    "\n  query MyBoards { myBoards { ...BoardSummaryFields } }\n": typeof types.MyBoardsDocument,
    "\n  mutation CreateBoard($input: CreateBoardInput!) { createBoard(input: $input) { ...BoardSummaryFields } }\n": typeof types.CreateBoardDocument,
    "\n  fragment TaskFields on Task {\n    id\n    title\n    description\n    status\n    priority\n    position\n    labels\n    assignee { id name }\n    creator { id name }\n    updatedAt\n  }\n": typeof types.TaskFieldsFragmentDoc,
    "\n  query Board($id: ID!, $first: Int!, $after: String) {\n    board(id: $id) {\n      ...BoardSummaryFields\n      tasks(first: $first, after: $after) {\n        totalCount\n        pageInfo { hasNextPage endCursor }\n        edges { cursor node { ...TaskFields } }\n      }\n    }\n  }\n": typeof types.BoardDocument,
    "\n  query BoardRoom($boardId: ID!) { board(id: $boardId) { id chatRoom { id name } } }\n": typeof types.BoardRoomDocument,
    "\n  query SearchUsers($query: String!) { searchUsers(query: $query, first: 5) { id name } }\n": typeof types.SearchUsersDocument,
    "\n  mutation AddBoardMember($boardId: ID!, $userId: ID!) {\n    addBoardMember(boardId: $boardId, userId: $userId) { ...BoardSummaryFields }\n  }\n": typeof types.AddBoardMemberDocument,
    "\n  mutation RemoveBoardMember($boardId: ID!, $userId: ID!) {\n    removeBoardMember(boardId: $boardId, userId: $userId) { ...BoardSummaryFields }\n  }\n": typeof types.RemoveBoardMemberDocument,
    "\n  mutation CreateTask($input: CreateTaskInput!) { createTask(input: $input) { ...TaskFields } }\n": typeof types.CreateTaskDocument,
    "\n  mutation MoveTask($id: ID!, $status: TaskStatus!, $beforeTaskId: ID) {\n    moveTask(id: $id, status: $status, beforeTaskId: $beforeTaskId) { ...TaskFields }\n  }\n": typeof types.MoveTaskDocument,
    "\n  mutation AssignTask($id: ID!, $userId: ID) { assignTask(id: $id, userId: $userId) { ...TaskFields } }\n": typeof types.AssignTaskDocument,
    "\n  mutation DeleteTask($id: ID!) { deleteTask(id: $id) }\n": typeof types.DeleteTaskDocument,
    "\n  subscription TaskChanged($boardId: ID!) {\n    taskChanged(boardId: $boardId) {\n      kind\n      taskId\n      task { ...TaskFields }\n      actor { id name }\n    }\n  }\n": typeof types.TaskChangedDocument,
    "\n  fragment MessageFields on Message {\n    id\n    seq\n    body\n    createdAt\n    author { id name }\n    mentions { id name }\n  }\n": typeof types.MessageFieldsFragmentDoc,
    "\n  query RoomMessages($roomId: ID!, $last: Int!, $before: String) {\n    chatRoom(id: $roomId) {\n      id\n      messages(last: $last, before: $before) {\n        pageInfo { hasPreviousPage startCursor }\n        edges { cursor node { ...MessageFields } }\n      }\n    }\n  }\n": typeof types.RoomMessagesDocument,
    "\n  mutation SendMessage($roomId: ID!, $body: String!) {\n    sendMessage(roomId: $roomId, body: $body) { ...MessageFields }\n  }\n": typeof types.SendMessageDocument,
    "\n  subscription MessageAdded($roomId: ID!) { messageAdded(roomId: $roomId) { ...MessageFields } }\n": typeof types.MessageAddedDocument,
    "\n  fragment NotificationFields on Notification {\n    id\n    kind\n    text\n    read\n    createdAt\n    board { id }\n  }\n": typeof types.NotificationFieldsFragmentDoc,
    "\n  query Notifications($first: Int!, $after: String) {\n    me { id unreadNotificationCount }\n    notifications(first: $first, after: $after) {\n      pageInfo { hasNextPage endCursor }\n      edges { cursor node { ...NotificationFields } }\n    }\n  }\n": typeof types.NotificationsDocument,
    "\n  mutation MarkNotificationRead($id: ID!) { markNotificationRead(id: $id) { id read } }\n": typeof types.MarkNotificationReadDocument,
    "\n  mutation MarkAllNotificationsRead { markAllNotificationsRead }\n": typeof types.MarkAllNotificationsReadDocument,
    "\n  subscription NotificationAdded { notificationAdded { ...NotificationFields } }\n": typeof types.NotificationAddedDocument,
};
const documents: Documents = {
    "\n  fragment AuthFields on AuthPayload {\n    accessToken\n    refreshToken\n    expiresAt\n    user { id name email }\n  }\n": types.AuthFieldsFragmentDoc,
    "\n  mutation SignUp($input: SignUpInput!) { signUp(input: $input) { ...AuthFields } }\n": types.SignUpDocument,
    "\n  mutation SignIn($email: String!, $password: String!) {\n    signIn(email: $email, password: $password) { ...AuthFields }\n  }\n": types.SignInDocument,
    "\n  mutation RefreshSession($refreshToken: String!) {\n    refreshSession(refreshToken: $refreshToken) { ...AuthFields }\n  }\n": types.RefreshSessionDocument,
    "\n  mutation SignOut($refreshToken: String!) { signOut(refreshToken: $refreshToken) }\n": types.SignOutDocument,
    "\n  fragment BoardSummaryFields on Board {\n    id\n    name\n    description\n    owner { id name }\n    members { role user { id name } }\n  }\n": types.BoardSummaryFieldsFragmentDoc,
    "\n  query MyBoards { myBoards { ...BoardSummaryFields } }\n": types.MyBoardsDocument,
    "\n  mutation CreateBoard($input: CreateBoardInput!) { createBoard(input: $input) { ...BoardSummaryFields } }\n": types.CreateBoardDocument,
    "\n  fragment TaskFields on Task {\n    id\n    title\n    description\n    status\n    priority\n    position\n    labels\n    assignee { id name }\n    creator { id name }\n    updatedAt\n  }\n": types.TaskFieldsFragmentDoc,
    "\n  query Board($id: ID!, $first: Int!, $after: String) {\n    board(id: $id) {\n      ...BoardSummaryFields\n      tasks(first: $first, after: $after) {\n        totalCount\n        pageInfo { hasNextPage endCursor }\n        edges { cursor node { ...TaskFields } }\n      }\n    }\n  }\n": types.BoardDocument,
    "\n  query BoardRoom($boardId: ID!) { board(id: $boardId) { id chatRoom { id name } } }\n": types.BoardRoomDocument,
    "\n  query SearchUsers($query: String!) { searchUsers(query: $query, first: 5) { id name } }\n": types.SearchUsersDocument,
    "\n  mutation AddBoardMember($boardId: ID!, $userId: ID!) {\n    addBoardMember(boardId: $boardId, userId: $userId) { ...BoardSummaryFields }\n  }\n": types.AddBoardMemberDocument,
    "\n  mutation RemoveBoardMember($boardId: ID!, $userId: ID!) {\n    removeBoardMember(boardId: $boardId, userId: $userId) { ...BoardSummaryFields }\n  }\n": types.RemoveBoardMemberDocument,
    "\n  mutation CreateTask($input: CreateTaskInput!) { createTask(input: $input) { ...TaskFields } }\n": types.CreateTaskDocument,
    "\n  mutation MoveTask($id: ID!, $status: TaskStatus!, $beforeTaskId: ID) {\n    moveTask(id: $id, status: $status, beforeTaskId: $beforeTaskId) { ...TaskFields }\n  }\n": types.MoveTaskDocument,
    "\n  mutation AssignTask($id: ID!, $userId: ID) { assignTask(id: $id, userId: $userId) { ...TaskFields } }\n": types.AssignTaskDocument,
    "\n  mutation DeleteTask($id: ID!) { deleteTask(id: $id) }\n": types.DeleteTaskDocument,
    "\n  subscription TaskChanged($boardId: ID!) {\n    taskChanged(boardId: $boardId) {\n      kind\n      taskId\n      task { ...TaskFields }\n      actor { id name }\n    }\n  }\n": types.TaskChangedDocument,
    "\n  fragment MessageFields on Message {\n    id\n    seq\n    body\n    createdAt\n    author { id name }\n    mentions { id name }\n  }\n": types.MessageFieldsFragmentDoc,
    "\n  query RoomMessages($roomId: ID!, $last: Int!, $before: String) {\n    chatRoom(id: $roomId) {\n      id\n      messages(last: $last, before: $before) {\n        pageInfo { hasPreviousPage startCursor }\n        edges { cursor node { ...MessageFields } }\n      }\n    }\n  }\n": types.RoomMessagesDocument,
    "\n  mutation SendMessage($roomId: ID!, $body: String!) {\n    sendMessage(roomId: $roomId, body: $body) { ...MessageFields }\n  }\n": types.SendMessageDocument,
    "\n  subscription MessageAdded($roomId: ID!) { messageAdded(roomId: $roomId) { ...MessageFields } }\n": types.MessageAddedDocument,
    "\n  fragment NotificationFields on Notification {\n    id\n    kind\n    text\n    read\n    createdAt\n    board { id }\n  }\n": types.NotificationFieldsFragmentDoc,
    "\n  query Notifications($first: Int!, $after: String) {\n    me { id unreadNotificationCount }\n    notifications(first: $first, after: $after) {\n      pageInfo { hasNextPage endCursor }\n      edges { cursor node { ...NotificationFields } }\n    }\n  }\n": types.NotificationsDocument,
    "\n  mutation MarkNotificationRead($id: ID!) { markNotificationRead(id: $id) { id read } }\n": types.MarkNotificationReadDocument,
    "\n  mutation MarkAllNotificationsRead { markAllNotificationsRead }\n": types.MarkAllNotificationsReadDocument,
    "\n  subscription NotificationAdded { notificationAdded { ...NotificationFields } }\n": types.NotificationAddedDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment AuthFields on AuthPayload {\n    accessToken\n    refreshToken\n    expiresAt\n    user { id name email }\n  }\n"): (typeof documents)["\n  fragment AuthFields on AuthPayload {\n    accessToken\n    refreshToken\n    expiresAt\n    user { id name email }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation SignUp($input: SignUpInput!) { signUp(input: $input) { ...AuthFields } }\n"): (typeof documents)["\n  mutation SignUp($input: SignUpInput!) { signUp(input: $input) { ...AuthFields } }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation SignIn($email: String!, $password: String!) {\n    signIn(email: $email, password: $password) { ...AuthFields }\n  }\n"): (typeof documents)["\n  mutation SignIn($email: String!, $password: String!) {\n    signIn(email: $email, password: $password) { ...AuthFields }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation RefreshSession($refreshToken: String!) {\n    refreshSession(refreshToken: $refreshToken) { ...AuthFields }\n  }\n"): (typeof documents)["\n  mutation RefreshSession($refreshToken: String!) {\n    refreshSession(refreshToken: $refreshToken) { ...AuthFields }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation SignOut($refreshToken: String!) { signOut(refreshToken: $refreshToken) }\n"): (typeof documents)["\n  mutation SignOut($refreshToken: String!) { signOut(refreshToken: $refreshToken) }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment BoardSummaryFields on Board {\n    id\n    name\n    description\n    owner { id name }\n    members { role user { id name } }\n  }\n"): (typeof documents)["\n  fragment BoardSummaryFields on Board {\n    id\n    name\n    description\n    owner { id name }\n    members { role user { id name } }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query MyBoards { myBoards { ...BoardSummaryFields } }\n"): (typeof documents)["\n  query MyBoards { myBoards { ...BoardSummaryFields } }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CreateBoard($input: CreateBoardInput!) { createBoard(input: $input) { ...BoardSummaryFields } }\n"): (typeof documents)["\n  mutation CreateBoard($input: CreateBoardInput!) { createBoard(input: $input) { ...BoardSummaryFields } }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment TaskFields on Task {\n    id\n    title\n    description\n    status\n    priority\n    position\n    labels\n    assignee { id name }\n    creator { id name }\n    updatedAt\n  }\n"): (typeof documents)["\n  fragment TaskFields on Task {\n    id\n    title\n    description\n    status\n    priority\n    position\n    labels\n    assignee { id name }\n    creator { id name }\n    updatedAt\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Board($id: ID!, $first: Int!, $after: String) {\n    board(id: $id) {\n      ...BoardSummaryFields\n      tasks(first: $first, after: $after) {\n        totalCount\n        pageInfo { hasNextPage endCursor }\n        edges { cursor node { ...TaskFields } }\n      }\n    }\n  }\n"): (typeof documents)["\n  query Board($id: ID!, $first: Int!, $after: String) {\n    board(id: $id) {\n      ...BoardSummaryFields\n      tasks(first: $first, after: $after) {\n        totalCount\n        pageInfo { hasNextPage endCursor }\n        edges { cursor node { ...TaskFields } }\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query BoardRoom($boardId: ID!) { board(id: $boardId) { id chatRoom { id name } } }\n"): (typeof documents)["\n  query BoardRoom($boardId: ID!) { board(id: $boardId) { id chatRoom { id name } } }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query SearchUsers($query: String!) { searchUsers(query: $query, first: 5) { id name } }\n"): (typeof documents)["\n  query SearchUsers($query: String!) { searchUsers(query: $query, first: 5) { id name } }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation AddBoardMember($boardId: ID!, $userId: ID!) {\n    addBoardMember(boardId: $boardId, userId: $userId) { ...BoardSummaryFields }\n  }\n"): (typeof documents)["\n  mutation AddBoardMember($boardId: ID!, $userId: ID!) {\n    addBoardMember(boardId: $boardId, userId: $userId) { ...BoardSummaryFields }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation RemoveBoardMember($boardId: ID!, $userId: ID!) {\n    removeBoardMember(boardId: $boardId, userId: $userId) { ...BoardSummaryFields }\n  }\n"): (typeof documents)["\n  mutation RemoveBoardMember($boardId: ID!, $userId: ID!) {\n    removeBoardMember(boardId: $boardId, userId: $userId) { ...BoardSummaryFields }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CreateTask($input: CreateTaskInput!) { createTask(input: $input) { ...TaskFields } }\n"): (typeof documents)["\n  mutation CreateTask($input: CreateTaskInput!) { createTask(input: $input) { ...TaskFields } }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation MoveTask($id: ID!, $status: TaskStatus!, $beforeTaskId: ID) {\n    moveTask(id: $id, status: $status, beforeTaskId: $beforeTaskId) { ...TaskFields }\n  }\n"): (typeof documents)["\n  mutation MoveTask($id: ID!, $status: TaskStatus!, $beforeTaskId: ID) {\n    moveTask(id: $id, status: $status, beforeTaskId: $beforeTaskId) { ...TaskFields }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation AssignTask($id: ID!, $userId: ID) { assignTask(id: $id, userId: $userId) { ...TaskFields } }\n"): (typeof documents)["\n  mutation AssignTask($id: ID!, $userId: ID) { assignTask(id: $id, userId: $userId) { ...TaskFields } }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation DeleteTask($id: ID!) { deleteTask(id: $id) }\n"): (typeof documents)["\n  mutation DeleteTask($id: ID!) { deleteTask(id: $id) }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription TaskChanged($boardId: ID!) {\n    taskChanged(boardId: $boardId) {\n      kind\n      taskId\n      task { ...TaskFields }\n      actor { id name }\n    }\n  }\n"): (typeof documents)["\n  subscription TaskChanged($boardId: ID!) {\n    taskChanged(boardId: $boardId) {\n      kind\n      taskId\n      task { ...TaskFields }\n      actor { id name }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment MessageFields on Message {\n    id\n    seq\n    body\n    createdAt\n    author { id name }\n    mentions { id name }\n  }\n"): (typeof documents)["\n  fragment MessageFields on Message {\n    id\n    seq\n    body\n    createdAt\n    author { id name }\n    mentions { id name }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query RoomMessages($roomId: ID!, $last: Int!, $before: String) {\n    chatRoom(id: $roomId) {\n      id\n      messages(last: $last, before: $before) {\n        pageInfo { hasPreviousPage startCursor }\n        edges { cursor node { ...MessageFields } }\n      }\n    }\n  }\n"): (typeof documents)["\n  query RoomMessages($roomId: ID!, $last: Int!, $before: String) {\n    chatRoom(id: $roomId) {\n      id\n      messages(last: $last, before: $before) {\n        pageInfo { hasPreviousPage startCursor }\n        edges { cursor node { ...MessageFields } }\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation SendMessage($roomId: ID!, $body: String!) {\n    sendMessage(roomId: $roomId, body: $body) { ...MessageFields }\n  }\n"): (typeof documents)["\n  mutation SendMessage($roomId: ID!, $body: String!) {\n    sendMessage(roomId: $roomId, body: $body) { ...MessageFields }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription MessageAdded($roomId: ID!) { messageAdded(roomId: $roomId) { ...MessageFields } }\n"): (typeof documents)["\n  subscription MessageAdded($roomId: ID!) { messageAdded(roomId: $roomId) { ...MessageFields } }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment NotificationFields on Notification {\n    id\n    kind\n    text\n    read\n    createdAt\n    board { id }\n  }\n"): (typeof documents)["\n  fragment NotificationFields on Notification {\n    id\n    kind\n    text\n    read\n    createdAt\n    board { id }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Notifications($first: Int!, $after: String) {\n    me { id unreadNotificationCount }\n    notifications(first: $first, after: $after) {\n      pageInfo { hasNextPage endCursor }\n      edges { cursor node { ...NotificationFields } }\n    }\n  }\n"): (typeof documents)["\n  query Notifications($first: Int!, $after: String) {\n    me { id unreadNotificationCount }\n    notifications(first: $first, after: $after) {\n      pageInfo { hasNextPage endCursor }\n      edges { cursor node { ...NotificationFields } }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation MarkNotificationRead($id: ID!) { markNotificationRead(id: $id) { id read } }\n"): (typeof documents)["\n  mutation MarkNotificationRead($id: ID!) { markNotificationRead(id: $id) { id read } }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation MarkAllNotificationsRead { markAllNotificationsRead }\n"): (typeof documents)["\n  mutation MarkAllNotificationsRead { markAllNotificationsRead }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription NotificationAdded { notificationAdded { ...NotificationFields } }\n"): (typeof documents)["\n  subscription NotificationAdded { notificationAdded { ...NotificationFields } }\n"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;