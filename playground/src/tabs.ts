/** Example operations for the platform's main flows, preloaded as GraphiQL tabs. */
export const exampleTabs: { query: string; variables?: string | null }[] = [
  {
    query: `# Welcome to the platform's GraphQL playground.
#
# 1. Open "Sign in" in the left sidebar (the key icon), or run SignUp below.
# 2. The helper puts {"Authorization": "Bearer …"} into the Headers editor.
# 3. Run Me in the next tab.
#
# Subscriptions run over graphql-transport-ws on the same /graphql endpoint;
# the Authorization header goes in the connection_init payload.

mutation SignUp($input: SignUpInput!) {
  signUp(input: $input) {
    accessToken
    refreshToken
    expiresAt
    user { id name email }
  }
}

mutation SignIn($email: String!, $password: String!) {
  signIn(email: $email, password: $password) {
    accessToken
    refreshToken
    expiresAt
    user { id name }
  }
}
`,
    variables: `{
  "input": { "email": "ada@example.com", "password": "correct horse battery", "name": "Ada" },
  "email": "ada@example.com",
  "password": "correct horse battery"
}`,
  },
  {
    query: `query Me {
  me {
    id
    name
    email
    unreadNotificationCount
    boards {
      id
      name
      members { role user { id name } }
      tasks(first: 10) { totalCount edges { node { id title status assignee { name } } } }
    }
  }
}
`,
  },
  {
    query: `mutation CreateBoard($input: CreateBoardInput!) {
  createBoard(input: $input) { id name chatRoom { id } }
}

mutation CreateTask($task: CreateTaskInput!) {
  createTask(input: $task) { id title status position assignee { name } }
}

mutation MoveTask($id: ID!, $status: TaskStatus!) {
  moveTask(id: $id, status: $status) { id status position }
}

mutation AddMember($boardId: ID!, $userId: ID!) {
  addBoardMember(boardId: $boardId, userId: $userId) { members { role user { name } } }
}

query FindUser($query: String!) {
  searchUsers(query: $query) { id name }
}
`,
    variables: `{
  "input": { "name": "Launch", "description": "Everything for the launch" },
  "task": { "boardId": "<board id>", "title": "Write the announcement", "status": "TODO" },
  "id": "<task id>",
  "status": "IN_PROGRESS",
  "boardId": "<board id>",
  "userId": "<user id>",
  "query": "bob@"
}`,
  },
  {
    query: `query Chat($roomId: ID!) {
  chatRoom(id: $roomId) {
    name
    messages(last: 20) {
      pageInfo { hasPreviousPage startCursor }
      edges { node { seq body author { name } mentions { name } createdAt } }
    }
  }
}

mutation Send($roomId: ID!, $body: String!) {
  sendMessage(roomId: $roomId, body: $body) { id seq body mentions { name } }
}

query Inbox {
  me { unreadNotificationCount }
  notifications(first: 10) { edges { node { id kind text read createdAt } } }
}
`,
    variables: `{ "roomId": "<board.chatRoom.id>", "body": "Hello @Bob" }`,
  },
  {
    query: `# Subscriptions: keep this tab running, then change something in another tab
# (or in the live UI at /). Each needs the Authorization header.

subscription TaskChanged($boardId: ID!) {
  taskChanged(boardId: $boardId) {
    kind
    taskId
    task { title status position assignee { name } }
    actor { name }
    at
  }
}

subscription MessageAdded($roomId: ID!) {
  messageAdded(roomId: $roomId) { seq body author { name } mentions { name } }
}

subscription NotificationAdded {
  notificationAdded { kind text actor { name } createdAt }
}
`,
    variables: `{ "boardId": "<board id>", "roomId": "<board.chatRoom.id>" }`,
  },
];
